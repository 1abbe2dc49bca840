import Foundation

/// The steps deploy and rollback run on one host: install a release's container, check it,
/// record it, or put the previous release back. Volume data is never touched: containers are
/// removed without `-v` and nothing here deletes a host path.
extension RemoteHost {
  /// `docker pull` by digest, so every host gets the same bytes.
  func pull(_ image: ImageReference) async throws {
    try await step("pull") {
      // Resolving the tag on this host pulled exactly this digest a moment ago.
      if let pinned = image.pinned, hasPulled(pinned) { return }
      var command = DockerCommand.pull(image)
      if let pinned = image.pinned, keeps(pinned) {
        // A kept release's image is never pruned, so it is usually still here: asking Docker
        // is cheaper than a pull, and a rollback then works with the registry down.
        command = RemoteCommand(
          script: DockerCommand.imageID(pinned).line + " >/dev/null 2>&1 || " + command.line)
      }
      try await run(command, "docker pull \(image.pinned ?? image.description)", timeout: .seconds(900))
    }
  }

  /// Pulls a tag and reads the digest the registry served for it, in one round trip. Done once,
  /// on one host, before any container changes anywhere.
  func resolveDigest(of image: ImageReference) async throws -> ImageDigest {
    try await step("resolve \(image.tag ?? image.description)") {
      let script =
        DockerCommand.pull(image).line + " >/dev/null || exit 1\n"
        + DockerCommand.imageRepoDigests(image).line
      let result = try await run(
        RemoteCommand(script: script), "docker pull \(image) and docker image inspect", timeout: .seconds(900)
      )
      let digest = try DockerOutput.repoDigest(result.stdout, repository: image.repository)
      if let pinned = image.resolved(to: digest).pinned { notePulled(pinned) }
      return digest
    }
  }

  /// Stops and removes the app's container (if any) and runs `release` in its place. The env
  /// file with secrets, when there is one, is uploaded first with mode 0600, so no secret is
  /// ever on a command line.
  func install(
    _ release: ReleaseRecord, envFile: String?, replacing old: ContainerInfo?, oldStopTimeout: Int?
  )
    async throws
  {
    if let envFile, let path = release.container.envFile {
      try await step("upload env file") {
        try await run(HostState.prepare(paths), "create \(paths.appDirectory)")
        try await liveSession().upload(Array(envFile.utf8), to: path, mode: 0o600)
      }
    }
    try await step("replace container") {
      var script = HostState.prepare(paths).line + " || exit 1\n"
      // A missing network fails the host here, while the old container still serves.
      script += DockerCommand.requireNetworks(release.container.options.network.map { [$0] } ?? [])
      if let old, !old.isRelease(of: release.container) {
        // A container deployctl did not start (the one a hand-written step ran): kept,
        // stopped and renamed, so a failed first deploy can bring it back.
        script += park(old.name, timeout: release.container.stopTimeoutSeconds) + " || exit 1\n"
      } else if old != nil {
        script += stopAndRemove(release.container.name, timeout: oldStopTimeout) + " || exit 1\n"
      }
      // `docker run --detach` prints the new container's id: the health check starts from it.
      script += try DockerCommand.run(release.container).line
      let result = try await run(RemoteCommand(script: script), "replace container \(release.container.name)")
      let id = result.stdout.split(separator: "\n").last.map(String.init) ?? ""
      if id.count == 64, id.allSatisfy(\.isHexDigit) { noteStarted(release.container.name, id: id) }
    }
  }

  /// `docker stop` then `docker rm`, if the container exists. Never `rm -v`. Two docker commands
  /// when it exists (the usual case): whether it exists is only asked when the stop fails, and
  /// then the stop is repeated so that its own error is the one reported.
  func stopAndRemove(_ name: String, timeout: Int?) -> String {
    let stop = DockerCommand.stop(name, timeoutSeconds: timeout).line
    let remove = DockerCommand.remove(name).line + " >/dev/null"
    let exists = DockerCommand.inspectContainer(name).line + " >/dev/null 2>&1"
    return
      "if \(stop) >/dev/null 2>&1; then \(remove); elif \(exists); then \(stop) >/dev/null && \(remove); fi"
  }

  /// Where a container deployctl did not start is kept when deployctl first replaces it.
  static func parkedName(_ name: String) -> String { name + "-before-deployctl" }

  /// Stops `name` and renames it out of the way (`parkedName`); refuses if that name is taken.
  func park(_ name: String, timeout: Int?) -> String {
    let parked = Self.parkedName(name)
    let taken = DockerCommand.inspectContainer(parked).line + " >/dev/null 2>&1"
    return
      "if \(taken); then echo \(ShellQuote.quote("a container named \(parked) exists already: remove or rename it"))"
      + " >&2; exit 1; fi\n\(DockerCommand.stop(name, timeoutSeconds: timeout).line) >/dev/null"
      + " && \(DockerCommand.rename(name, to: parked).line)"
  }

  /// Brings back a container `park` kept, if there is one.
  func unpark(_ name: String) -> String {
    let parked = Self.parkedName(name)
    return "if \(DockerCommand.inspectContainer(parked).line) >/dev/null 2>&1; then "
      + "\(DockerCommand.rename(parked, to: name).line) && \(DockerCommand.start(name).line) >/dev/null; fi"
  }

  /// The last lines of the container's log, for a failure message.
  func logTail(_ name: String, lines: Int = 15) async -> [String] {
    guard let result = try? await probe(DockerCommand.logs(name, tail: lines), timeout: .seconds(20)) else {
      return []
    }
    let text = (result.stdout + result.stderr).split(separator: "\n").suffix(lines)
    return text.map { "log: \($0)" }
  }

  /// Records `release` as what runs here, appends the audit line, and forgets releases beyond
  /// `keep` (their records, env files and images; never volumes). One round trip.
  func commit(
    _ release: ReleaseRecord, audit: AuditEntry, snapshot: HostSnapshot, keep: Int
  ) async throws {
    try await step("record", quiet: true) {
      var script = try HostState.writeRecord(release, paths).line + " || exit 1\n"
      script += try HostState.setCurrent(release.id, paths).line + " || exit 1\n"
      script += HostState.appendAudit(audit, paths).line + " || exit 1\n"
      let known = [release] + snapshot.releases.records.filter { $0.id != release.id }
      let kept = Array(known.filter { $0.result == .deployed || $0.id == release.id }.prefix(max(1, keep)))
      let forgotten = known.filter { record in !kept.contains { $0.id == record.id } }
      if case .rollback = release.how {
        // Going back to `release` undoes every release deployed after it: they no longer count
        // as the one to go back to, so the next rollback returns to what the host really ran
        // before. (They are kept until the next commit, like a failed release.)
        for undone in kept where undone.id != release.id && undone.createdAt > release.createdAt {
          var record = undone
          record.result = .rolledBack
          script += try HostState.writeRecord(record, paths).line + " || exit 1\n"
        }
      }
      if !forgotten.isEmpty {
        script += try HostState.removeReleases(forgotten.map(\.id), paths).line + "\n"
        let keptImages = Set(kept.map(\.image))
        let unused = Set(forgotten.map(\.image)).subtracting(keptImages).sorted()
        if !unused.isEmpty {
          // Docker refuses to remove an image a container still uses; that is fine here.
          script += DockerCommand.removeImages(unused).line + " >/dev/null 2>&1; true\n"
        }
      }
      try await run(RemoteCommand(script: script), "record release \(release.id)")
    }
  }

  /// Records a release that did not stay (failed here, or undone with the rest of the rollout)
  /// without making it current, and appends the audit line.
  func recordUndone(_ release: ReleaseRecord, audit: AuditEntry, current: String?) async throws {
    try await step("record", quiet: true) {
      var script = try HostState.writeRecord(release, paths).line + " || exit 1\n"
      if let current {
        script += try HostState.setCurrent(current, paths).line + " || exit 1\n"
      } else {
        script += "rm -f \(ShellQuote.quote(paths.currentReleaseFile)) || exit 1\n"
      }
      script += HostState.appendAudit(audit, paths).line
      try await run(RemoteCommand(script: script), "record release \(release.id)")
    }
  }
}
