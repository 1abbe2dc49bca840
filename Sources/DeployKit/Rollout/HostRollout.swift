import Foundation

/// The per-host half of a rollout: choosing what each host runs, replacing its container,
/// checking it, and going back when it fails.
extension Rollout {
  /// Fills in each host's target release. Refuses (exit 2) what is knowable up front: a
  /// rollback with nothing to go back to, a `--to` release a host does not keep.
  func chooseTargets(_ hosts: inout [HostRun], _ report: inout CommandReport, secrets: [EnvVar]) async throws
  {
    let active = hosts.indices.filter { hosts[$0].result == nil }
    switch request.kind {
    case .deploy(let image), .promote(_, _, let image):
      let clashes = active.compactMap { i -> String? in
        guard let container = hosts[i].snapshot?.container, container.app == plan.app,
          let other = container.environment, other != plan.environment
        else { return nil }
        return "\(hosts[i].name): container \(container.name) runs \(plan.app) for environment \(other); "
          + "give each environment on a shared host its own `container.name`"
      }
      guard clashes.isEmpty else {
        throw RolloutError.refused("nothing was changed:\n  " + clashes.joined(separator: "\n  "))
      }
      var pinned = image
      if image.digest == nil {
        if request.dryRun {
          report.release = ReleaseRef(id: "(new)", image: image.description)
        } else {
          guard let first = active.first else { return }
          let digest = try await hosts[first].remote!.resolveDigest(of: image)
          pinned = image.resolved(to: digest)
          await progress.say("\(image) is \(pinned.pinned ?? "?"): every host gets this digest")
        }
      }
      let id = ReleaseRecord.makeID()
      let how: ReleaseOrigin
      if case .promote(let from, let release, _) = request.kind {
        how = .promote(from: from, release: release)
      } else {
        how = .deploy
      }
      for i in active {
        let paths = hosts[i].remote!.paths
        let spec = hosts[i].plan.runSpec(
          image: pinned, release: id, envFile: secrets.isEmpty ? nil : try paths.envFile(id))
        if request.dryRun && pinned.digest == nil {
          // A tag is resolved only by pulling it, which a dry run does not do.
          hosts[i].plannedSpec = spec
          continue
        }
        hosts[i].target = try ReleaseRecord(
          container: spec, createdAt: Date(), user: request.user, how: how, result: .deployed)
      }
      if report.release == nil || !request.dryRun {
        report.release = ReleaseRef(id: id, image: pinned.pinned ?? pinned.description)
      }
    case .rollback(let wanted):
      var problems: [String] = []
      for i in active {
        guard let snapshot = hosts[i].snapshot else { continue }
        let record: ReleaseRecord?
        if let wanted {
          record = snapshot.releases.records.first { r in
            r.id == wanted || r.tag == wanted || r.digest.value == wanted || r.image == wanted
              || r.digest.hex.hasPrefix(wanted.replacingOccurrences(of: "sha256:", with: ""))
                && wanted.count >= 12
          }
          if record == nil {
            let kept = snapshot.releases.records.map { "\($0.id) (\($0.tag ?? $0.digest.short))" }
            problems.append(
              "\(hosts[i].name): no kept release matches \(wanted); kept: "
                + (kept.isEmpty ? "none" : kept.joined(separator: ", ")))
          }
        } else {
          record = snapshot.previous
          if record == nil {
            problems.append(
              "\(hosts[i].name): no earlier release to go back to (current: \(snapshot.releases.current ?? "none"))"
            )
          }
        }
        if let record {
          var target = record
          target.how = .rollback(of: snapshot.releases.current ?? record.id)
          target.createdAt = record.createdAt
          hosts[i].target = target
        }
      }
      guard problems.isEmpty else {
        throw RolloutError.refused("nothing was changed:\n  " + problems.joined(separator: "\n  "))
      }
      if let target = active.compactMap({ hosts[$0].target }).first {
        report.release = ReleaseRef(id: target.id, image: target.image)
      }
    }
  }

  /// Dry run: what runs now and what would change.
  func describePlan(_ host: inout HostRun) async {
    guard let spec = host.plannedSpec ?? host.target?.container, let snapshot = host.snapshot else { return }
    let now =
      snapshot.current.map { "release \($0.id) \($0.image)" }
      ?? snapshot.container.map { "container \($0.name) (\($0.image), not deployed by deployctl)" }
      ?? "nothing of ours"
    let same = snapshot.current?.digest != nil && snapshot.current?.digest == spec.image.digest
    await progress.host(host.name, "now", .note(now))
    if let container = snapshot.container, !container.isRelease(of: spec) {
      await progress.host(
        host.name, "would keep",
        .note("\(container.name), stopped, as \(RemoteHost.parkedName(container.name))"))
    }
    await progress.host(
      host.name, same ? "would re-run (same digest)" : "would run",
      .note(ShellQuote.join(DockerCommand.runArguments(spec))))
    host.result = .planned
    host.finished = .now
  }

  /// Installs the target release on one host, checks it, records it; on any failure puts the
  /// previous release back. Returns the host's outcome as a value.
  func deploy(_ host: HostRun, secrets: [EnvVar]) async -> HostRun {
    var host = host
    host.started = .now
    guard let remote = host.remote, let target = host.target, let snapshot = host.snapshot else {
      return host
    }
    if let signal = stop.requested {
      host.finished = host.started
      host.result = .skipped
      host.error = "not started: interrupted by \(signal)"
      return host
    }
    let envFile = secrets.isEmpty || target.container.envFile == nil ? nil : try? EnvFile.render(secrets)
    do {
      host.moved = true
      try await remote.install(
        target, envFile: envFile, replacing: snapshot.container,
        oldStopTimeout: snapshot.current?.container.stopTimeoutSeconds)
      try await remote.step("health") {
        let report = try await gate(host.plan, target.container).check(on: remote, stop: stop)
        guard report.healthy else {
          let logs = await remote.logTail(target.container.name)
          throw RolloutError.unhealthy(
            host: host.name, reason: report.reason, details: report.resultLines + logs)
        }
      }
      try await remote.commit(
        target, audit: audit(target, .succeeded, previous: snapshot.releases.current), snapshot: snapshot,
        keep: plan.rollback.keep)
      host.result = .deployed
      host.release = target.id
      host.finished = .now
      return host
    } catch {
      await progress.host(host.name, "failed", .note(String(describing: error)))
      // A check that stopped the install before the old container was touched (a missing
      // network): the host still runs its previous release, untouched.
      var untouched = false
      if case RolloutError.stepFailed(_, _, DockerCommand.unchangedExitStatus, _) = error { untouched = true }
      return await restore(host, because: String(describing: error), undoing: false, untouched: untouched)
    }
  }

  /// Puts the host back on the release it ran before this rollout (re-created from its record,
  /// volumes untouched), or removes our container when there was none. `undoing`: the host was
  /// healthy and is going back because the rollout as a whole failed.
  func restore(_ host: HostRun, because reason: String, undoing: Bool, untouched: Bool = false) async
    -> HostRun
  {
    var host = host
    guard let remote = host.remote, let target = host.target, let snapshot = host.snapshot else {
      return host
    }
    host.error = undoing ? "rolled back: \(reason)" : reason
    let previous = snapshot.current
    do {
      if !untouched {
        try await remote.step("restore \(previous?.id ?? "(no previous release)")") {
          var script = remote.stopAndRemove(
            target.container.name, timeout: target.container.stopTimeoutSeconds)
          if let previous {
            script += " || exit 1\n" + (try DockerCommand.run(previous.container).line) + " >/dev/null"
          } else {
            script += " || exit 1\n" + remote.unpark(target.container.name)
          }
          try await remote.run(RemoteCommand(script: script), "restore \(previous?.id ?? "nothing")")
        }
        if let previous {
          try await remote.step("health (restored)") {
            let report = try await gate(host.plan, previous.container).check(on: remote, stop: StopRequest())
            guard report.healthy else {
              throw RolloutError.unhealthy(
                host: host.name,
                reason: "restored release \(previous.id) is not healthy either: \(report.reason)",
                details: report.resultLines)
            }
          }
        }
      }
      var undone = target
      undone.result = undoing ? .rolledBack : .failed
      if case .rollback = request.kind {
        // The target is an existing record: keep it as it was; only the audit line tells.
        try await remote.step("record", quiet: true) {
          var script = ""
          if let previous {
            script += try HostState.setCurrent(previous.id, remote.paths).line + " || exit 1\n"
          }
          script +=
            HostState.appendAudit(
              audit(target, .rolledBack, previous: snapshot.releases.current), remote.paths
            ).line
          try await remote.run(RemoteCommand(script: script), "record")
        }
      } else {
        try await remote.recordUndone(
          undone,
          audit: audit(undone, untouched ? .failed : .rolledBack, previous: snapshot.releases.current),
          current: previous?.id)
      }
      host.result = untouched ? .failed : .rolledBack
      host.release = previous?.id
    } catch {
      host.result = .restoreFailed
      host.error = "\(reason)\nthen restoring failed: \(error)"
      host.release = nil
      _ = try? await remote.run(
        HostState.appendAudit(
          audit(target, .needsAttention, previous: snapshot.releases.current), remote.paths), "audit",
        timeout: .seconds(20))
    }
    host.finished = .now
    return host
  }

  func gate(_ plan: ResolvedPlan, _ container: ContainerRunSpec) -> HealthGate {
    HealthGate(
      spec: plan.health, address: plan.host.address, containerName: container.name, ports: container.ports)
  }

  func audit(_ release: ReleaseRecord, _ result: AuditResult, previous: String?) -> AuditEntry {
    let command: AuditCommand =
      switch request.kind {
      case .deploy: .deploy
      case .promote: .promote
      case .rollback: .rollback
      }
    var from: String?
    if case .promote(let source, _, _) = request.kind { from = source }
    return AuditEntry(
      time: Date(), user: request.user, origin: ProcessInfo.processInfo.hostName, command: command,
      environment: plan.environment, release: release.id, image: release.container.image, result: result,
      run: request.runID, from: from, previous: previous)
  }
}
