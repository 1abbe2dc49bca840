import DeployConfig
import DeployTransport
import Foundation

/// A host of a rollout over SSH with the Docker CLI: one `RemoteShell` per host carries every step
/// of the command (one SSH exec request, one login shell), each step a `RemoteScript` of quoted
/// parts. A rollout with no trouble sends three steps: prepare (lock, state, pull), install (pull
/// by digest, env file, replace the container), commit (record, audit, unlock); the health check
/// goes through a port forward on the same connection. When the shell is lost (a cut link), the
/// next step reconnects once and runs the same script on its own.
public final class DockerHost: RolloutHost {
  public let name: String
  let plan: ResolvedPlan
  let paths: HostPaths
  let connections: SSHConnections
  let progress: ProgressLog
  let stop: StopRequest
  /// The plan's `registry:` credentials, for every pull.
  let registry: RegistryLogin?
  private let shell = Locked<RemoteShell?>(nil)
  private let timings: HostSteps
  /// The id `docker run` printed for the container `install` started (the health check starts
  /// from it, without asking Docker first).
  private let startedID = Locked<String?>(nil)

  public init(
    plan: ResolvedPlan, connections: SSHConnections, progress: ProgressLog, stop: StopRequest,
    registry: RegistryLogin? = nil
  ) throws {
    self.registry = registry
    name = plan.host.name
    self.plan = plan
    paths = try HostPaths(app: plan.app, environment: plan.environment)
    self.connections = connections
    self.progress = progress
    self.stop = stop
    timings = HostSteps(host: plan.host.name, progress: progress)
  }

  public var steps: [StepTiming] { timings.all }

  // MARK: Running steps

  /// The host's shell, connecting first if needed (the connect is timed as its own step).
  private func liveShell() async throws -> RemoteShell {
    if let open = shell.current, open.isOpen { return open }
    let clock = ContinuousClock()
    let start = clock.now
    let session = try await connections.session(for: plan.host.sshTarget)
    if shell.current == nil {
      timings.record("connect", clock.now - start)
    } else {
      await progress.host(name, "reconnect", .note("the connection was lost; continuing on a new one"))
    }
    let fresh = RemoteShell(session: session)
    let old = shell.withLock { current -> RemoteShell? in
      defer { current = fresh }
      return current
    }
    if let old { Task { await old.close() } }
    return fresh
  }

  /// Runs `script` as step `step`: progress on stderr when it starts and ends, its time kept.
  /// A shell lost before or during the step is replaced once, and the script runs again there
  /// (every step is safe to repeat: it checks what exists before it acts).
  func run(
    _ step: String, _ script: RemoteScript, timeout: Duration = .seconds(120), quiet: Bool = false,
    checking order: [String] = []
  ) async throws -> RemoteScriptOutput {
    try await timed(step, quiet: quiet) {
      let output = try await runOnce(step, script, timeout: timeout)
      try check(output, step, order: order)
      return output
    }
  }

  private func runOnce(_ step: String, _ script: RemoteScript, timeout: Duration) async throws
    -> RemoteScriptOutput
  {
    do {
      var lastError: (any Error)?
      for _ in 0..<2 {
        let shell = try await liveShell()
        do {
          let result = try await shell.run(script.text, timeout: timeout)
          return RemoteScriptOutput(lines: result.lines)
        } catch let error as RemoteShellError {
          if case .timedOut = error {
            throw RolloutError.stepFailed(host: name, step: step, exitStatus: -1, stderr: "\(error)")
          }
          lastError = error
        } catch let error as SSHError {
          lastError = error
        }
      }
      throw lastError ?? RemoteShellError.closed(reason: "no connection")
    }
  }

  func timed<T: Sendable>(_ step: String, quiet: Bool = false, _ body: () async throws -> T) async throws -> T
  {
    try await timings.run(step, quiet: quiet, body)
  }

  /// A failed section as the step's error.
  private func check(_ output: RemoteScriptOutput, _ step: String, order: [String]) throws {
    if let failure = output.failure(in: order) {
      throw RolloutError.stepFailed(
        host: name, step: "\(step) (\(failure.name))", exitStatus: failure.status, stderr: failure.output)
    }
    if output.sections.isEmpty, !output.other.isEmpty {
      // The script ended before its first section: the shell itself failed.
      throw RolloutError.stepFailed(
        host: name, step: step, exitStatus: 1, stderr: output.other.joined(separator: "\n"))
    }
  }

  /// Closes the host's shell and waits for it.
  public func close() async {
    let open = shell.withLock { current -> RemoteShell? in
      defer { current = nil }
      return current
    }
    await open?.close()
  }

  // MARK: RolloutHost

  public func prepare(_ request: PrepareRequest) async -> PrepareResult {
    await prepare(request, observe: DockerCommand.inspectContainer(plan.container.name)) { section in
      try ContainerInfo.parseInspect(section)
    }
  }

  /// `prepare`, reading what runs with `observe` (a container here, a Swarm service for
  /// `SwarmHost`) and handing its output to `read`.
  func prepare(
    _ request: PrepareRequest, observe: RemoteCommand,
    read: (RemoteScriptOutput.Section?) throws -> ContainerInfo?
  ) async -> PrepareResult {
    var script = RemoteScript()
    script.section("dirs", HostState.prepare(paths))
    script.section("lock", HostLock.acquire(request.holder, paths, ttl: request.ttl))
    // Another run holds the lock: nothing more to do here.
    script.raw("case \"$(cat \(ShellQuote.quote(paths.lockHolderFile)) 2>/dev/null)\" in")
    script.raw("  \(ShellQuote.quote(HostStateJSON.line(request.holder)))) ;;")
    script.raw("  *) exit 0 ;;")
    script.raw("esac")
    script.section("releases", HostState.readReleases(paths))
    script.section("container", observe, required: false)
    if request.pull != nil, let network = plan.container.options.network {
      // Checked before anything changes: a missing network fails the host with its old
      // container still serving.
      script.section("network", RemoteCommand(script: DockerCommand.requireNetworks([network])))
    }
    if let image = request.pull {
      script.section(
        "pull",
        RemoteCommand(
          script: DockerScripts.pull(image, login: registry, folder: paths.appDirectory) + " && "
            + DockerCommand.imageRepoDigests(image).line))
    }
    let step = request.pull == nil ? "lock, read state" : "lock, read state, pull"
    do {
      let output = try await run(
        step, script, timeout: .seconds(900), quiet: request.attempt > 0,
        checking: ["dirs", "lock", "releases", "network", "pull"])
      switch try HostLock.parseAttempt(output["lock"]?.output ?? "") {
      case .acquired: break
      case .takenOver(let previous, let renewedAgo):
        try await recordTakeover(previous, renewedAgo: renewedAgo, request)
      case .held(let other, let expiresIn):
        return PrepareResult(outcome: .locked(HeldLock(holder: other, host: name, expiresIn: expiresIn)))
      }
      let releases = try HostState.parseReleases(output["releases"]?.output ?? "")
      for problem in releases.unreadable {
        await progress.host(name, "read state", .note("a release record could not be read: \(problem)"))
      }
      let container = try read(output["container"])
      let snapshot = HostSnapshot(releases: releases, container: container)
      var pulled: ImageDigest?
      if let image = request.pull {
        // The last line is `docker image inspect`'s; a registry may print warnings before it.
        let answer = output["pull"]?.lines.last { !$0.isEmpty } ?? ""
        pulled = try DockerOutput.repoDigest(answer, repository: image.repository)
      }
      return PrepareResult(outcome: .ready, snapshot: snapshot, pulled: pulled)
    } catch {
      let unreachable = error is SSHError || error is RemoteShellError
      return PrepareResult(
        outcome: .failed(unreachable ? .unreachable : .failed, HostFailure(.prepare, error)))
    }
  }

  /// Says who held the lock before and since when it stopped renewing, and writes the takeover to
  /// the audit log at once (a run that dies later still leaves it on record).
  private func recordTakeover(_ previous: LockHolder?, renewedAgo: Int, _ request: PrepareRequest)
    async throws
  {
    let who = previous?.summary ?? "an unknown holder"
    await progress.host(
      name, "lock", .note("took over the lock of \(who): it stopped renewing its lease \(renewedAgo)s ago"))
    var entry = AuditEntry(
      time: Date(), user: request.holder.user, origin: request.holder.host, command: .lockTakeover,
      environment: plan.environment, release: nil, image: nil, result: .succeeded, run: request.run)
    entry.holder = who
    entry.stale = renewedAgo
    var script = RemoteScript()
    script.section("audit", HostState.appendAudit(entry, paths))
    _ = try await run("audit", script, timeout: .seconds(30), quiet: true, checking: ["audit"])
  }

  public func renew(_ holder: LockHolder, ttl: Duration) async -> Bool {
    guard let session = try? await connections.session(for: plan.host.sshTarget),
      let result = try? await session.exec(
        HostLock.renew(holder, paths, ttl: ttl).line, timeout: .seconds(20))
    else { return true }  // unknown: the lease may still hold; the next renewal tries again
    return HostLock.parseRenewal(result.stdout)
  }

  public func install(_ plan: InstallPlan) async throws {
    let spec = plan.release.container
    var script = RemoteScript()
    if let envFile = plan.envFile, let path = spec.envFile {
      script.section("env-file", HostState.writePrivate(envFile, to: path, in: paths.secretsDirectory))
    }
    // By digest: a no-op when prepare pulled it or a kept release still has it.
    script.section(
      "pull",
      RemoteCommand(
        script: DockerCommand.imageID(spec.image.pinned ?? spec.image.description).line
          + " >/dev/null 2>&1 || "
          + DockerScripts.pull(spec.image, login: registry, folder: paths.appDirectory)))
    let startFirst = self.plan.rollout.order == .startFirst && plan.replacing != nil
    if startFirst {
      // `order: start-first` (a plan with no host port): the new container starts under a
      // temporary name, then the old one stops and the new one takes its name.
      var next = spec
      next.name = DockerScripts.nextName(spec.name)
      script.section(
        "run",
        RemoteCommand(
          script: RemoteCommand(["docker", "rm", "-f", next.name]).line + " >/dev/null 2>&1; "
            + (try DockerCommand.run(next)).line))
    }
    if let old = plan.replacing, !old.isRelease(of: spec) {
      // A container deployctl did not start (the one a hand-written step ran): kept, stopped and
      // renamed, so a failed first deploy can bring it back.
      script.section(
        "stop", RemoteCommand(script: DockerScripts.park(old.name, timeout: spec.stopTimeoutSeconds)))
    } else if plan.replacing != nil {
      script.section(
        "stop",
        RemoteCommand(
          script: DockerScripts.stopAndRemove(spec.name, timeout: plan.previous?.container.stopTimeoutSeconds)
        ))
    }
    if startFirst {
      script.section(
        "rename", DockerCommand.rename(DockerScripts.nextName(spec.name), to: spec.name))
    } else {
      script.section("run", try DockerCommand.run(spec))
    }
    let output = try await run(
      "replace container", script, timeout: .seconds(900),
      checking: ["env-file", "pull", "run", "stop", "rename"])
    let id = output["run"]?.lines.last { !$0.isEmpty } ?? ""
    startedID.withLock { $0 = id.count == 64 && id.allSatisfy(\.isHexDigit) ? id : nil }
  }

  public func check(_ plan: InstallPlan) async throws {
    try await timed("health") {
      let report = try await gate(plan.release.container).check(stop: stop)
      guard report.healthy else {
        let logs = await logTail(plan.release.container.name)
        throw RolloutError.unhealthy(host: name, reason: report.reason, details: report.resultLines + logs)
      }
    }
  }

  public func restore(_ plan: InstallPlan) async throws {
    let spec = plan.release.container
    var script = RemoteScript()
    script.section(
      "stop", RemoteCommand(script: DockerScripts.stopAndRemove(spec.name, timeout: spec.stopTimeoutSeconds)))
    if let previous = plan.previous {
      script.section("run", try DockerCommand.run(previous.container))
    } else {
      script.section("unpark", RemoteCommand(script: DockerScripts.unpark(spec.name)))
    }
    let step = "restore \(plan.previous?.id ?? "(no previous release)")"
    let output = try await run(step, script, checking: ["stop", "run", "unpark"])
    guard let previous = plan.previous else { return }
    let id = output["run"]?.lines.last { !$0.isEmpty } ?? ""
    startedID.withLock { $0 = id.count == 64 && id.allSatisfy(\.isHexDigit) ? id : nil }
    try await timed("health (restored)") {
      let report = try await gate(previous.container).check(stop: StopRequest())
      guard report.healthy else {
        throw RolloutError.unhealthy(
          host: name, reason: "restored release \(previous.id) is not healthy either: \(report.reason)",
          details: report.resultLines)
      }
    }
  }

  public func commit(_ commit: HostCommit) async throws {
    try await self.commit(commit, also: [])
  }

  /// `commit`, with `also` (named parts, e.g. a Swarm's secrets to forget) run before the unlock.
  func commit(_ commit: HostCommit, also: [(String, RemoteCommand)]) async throws {
    var script = RemoteScript()
    // Each part runs whatever the one before did: the lock must go in any case.
    for (n, record) in commit.records.enumerated() {
      script.section("record\(n)", try HostState.writeRecord(record, paths), required: false)
    }
    switch commit.current {
    case .keep: break
    case .set(let id): script.section("current", try HostState.setCurrent(id, paths), required: false)
    case .remove:
      script.section("current", RemoteCommand(["rm", "-f", paths.currentReleaseFile]), required: false)
    }
    if let audit = commit.audit {
      script.section("audit", HostState.appendAudit(audit, paths), required: false)
    }
    if !commit.forget.isEmpty {
      script.section("forget", try HostState.removeReleases(commit.forget.map(\.id), paths), required: false)
      let kept = Set(commit.records.map(\.image))
      let unused = Set(commit.forget.map(\.image)).subtracting(kept).sorted()
      if !unused.isEmpty {
        // Off the critical path: Docker refuses to remove an image a container still uses, and
        // the shell does not wait for it.
        script.raw(DockerCommand.removeImages(unused).line + " >/dev/null 2>&1 &")
      }
    }
    for (name, command) in also { script.section(name, command, required: false) }
    let unlock = HostLock.release(commit.holder, paths)
    script.section("unlock", unlock, required: false)
    _ = try await run(
      "record, unlock", script, timeout: .seconds(60), quiet: true,
      checking: commit.records.indices.map { "record\($0)" } + ["current", "audit", "unlock"])
  }

  public func verify() async -> HostVerification? {
    await verify(at: nil)
  }

  /// The plan's verification against the app's published ports at `address` (a Swarm task's
  /// node), reached through this host's SSH connection or directly as `verify.via` says; nil
  /// address: this host's own.
  func verify(at address: String?) async -> HostVerification? {
    guard let spec = plan.verify else { return nil }
    let forwards = Locked<[Int: PortForward]>([:])
    defer {
      let open = forwards.current.values
      Task { for forward in open { await forward.close() } }
    }
    let node = address
    let address = address ?? plan.host.address
    let target = plan.host.sshTarget
    let connections = connections
    let ports = plan.container.ports
    let verification = try? await timed("verify") {
      try await HostVerifier(spec).run(host: name) { port in
        if let open = forwards.current[port] {
          return HTTPProbe.url(host: "127.0.0.1", port: open.localPort, path: "")
        }
        let (url, forward) = try await spec.via.reach(
          port, address: address, remoteHost: node ?? PortMapping.boundAddress(of: port, in: ports)
        ) { port, host in
          try await connections.session(for: target).forward(remotePort: port, remoteHost: host)
        }
        if let forward { forwards.withLock { $0[port] = forward } }
        return url
      }
    }
    return verification ?? HostVerification(name: name, passed: false, error: "interrupted")
  }

  // MARK: Health

  func gate(_ container: ContainerRunSpec) -> HealthGate {
    HealthGate(
      spec: plan.health, address: plan.host.address, containerName: container.name, ports: container.ports,
      startedID: startedID.withLock { id in
        defer { id = nil }
        return id
      },
      inspect: { [self] in try await self.inspect(container.name) },
      forward: { [self] port, host in
        try await self.connections.session(for: self.plan.host.sshTarget).forward(
          remotePort: port, remoteHost: host)
      })
  }

  /// `docker container inspect` through the host's shell (no new exec request).
  func inspect(_ container: String) async throws -> ContainerInfo? {
    var script = RemoteScript()
    script.section("inspect", DockerCommand.inspectContainer(container), required: false)
    let output = try await run("inspect", script, timeout: .seconds(30), quiet: true)
    return try ContainerInfo.parseInspect(output["inspect"])
  }

  /// The last lines of the container's log, for a failure message.
  func logTail(_ container: String, lines: Int = 15) async -> [String] {
    var script = RemoteScript()
    script.section("logs", DockerCommand.logs(container, tail: lines), required: false)
    guard let output = try? await run("logs", script, timeout: .seconds(20), quiet: true) else { return [] }
    return (output["logs"]?.lines ?? []).filter { !$0.isEmpty }.suffix(lines).map { "log: \($0)" }
  }
}
