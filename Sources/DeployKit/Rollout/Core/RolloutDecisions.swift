import Foundation

/// The decisions between reading the hosts and changing them, and after the changes: what each
/// host is to run, and what each host records when the command ends. Pure functions of values.
public enum RolloutDecisions {
  /// Each ready host's target, or a refusal (exit 2, nothing changed) for what is knowable up
  /// front: a rollback with nothing to go back to, a `--to` release a host does not keep, a
  /// same-named container of another environment.
  public struct Targets: Sendable {
    public var releases: [Int: ReleaseRecord] = [:]
    /// Dry run of a tag not yet resolved: what would run, without a release record.
    public var planned: [Int: ContainerRunSpec] = [:]
    public var release: ReleaseRef?
  }

  public static func targets(
    _ request: RolloutRequest, snapshots: [Int: HostSnapshot], plans: [ResolvedPlan], resolved: ImageDigest?,
    envFile: (ResolvedPlan, String) throws -> String?, now: Date = Date()
  ) throws(RolloutError) -> Targets {
    var targets = Targets()
    let active = snapshots.keys.sorted()
    switch request.kind {
    case .deploy(let image), .promote(_, _, let image):
      let clashes = active.compactMap { i -> String? in
        guard let container = snapshots[i]?.container, container.app == request.plan.app,
          let other = container.environment, other != request.plan.environment
        else { return nil }
        return
          "\(plans[i].host.name): container \(container.name) runs \(request.plan.app) for environment \(other); "
          + "give each environment on a shared host its own `container.name`"
      }
      guard clashes.isEmpty else {
        throw .refused("nothing was changed:\n  " + clashes.joined(separator: "\n  "))
      }
      var pinned = image
      if image.digest == nil, let resolved { pinned = image.resolved(to: resolved) }
      let id = ReleaseRecord.makeID(at: now)
      let how: ReleaseOrigin
      if case .promote(let from, let release, _) = request.kind {
        how = .promote(from: from, release: release)
      } else {
        how = .deploy
      }
      for i in active {
        let file: String?
        do {
          file = try envFile(plans[i], id)
        } catch {
          throw .refused("\(plans[i].host.name): \(error)")
        }
        let spec = plans[i].runSpec(image: pinned, release: id, envFile: file)
        if pinned.digest == nil {
          // A dry run does not pull, so a tag stays unresolved.
          targets.planned[i] = spec
          continue
        }
        do {
          targets.releases[i] = try ReleaseRecord(
            container: spec, createdAt: now, user: request.user, how: how, result: .deployed)
        } catch {
          throw .refused("\(plans[i].host.name): \(error)")
        }
      }
      targets.release = ReleaseRef(
        id: pinned.digest == nil ? "(new)" : id, image: pinned.pinned ?? pinned.description)
    case .rollback(let wanted):
      var problems: [String] = []
      for i in active {
        guard let snapshot = snapshots[i] else { continue }
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
              "\(plans[i].host.name): no kept release matches \(wanted); kept: "
                + (kept.isEmpty ? "none" : kept.joined(separator: ", ")))
          }
        } else {
          record = snapshot.previous
          if record == nil {
            problems.append(
              "\(plans[i].host.name): no earlier release to go back to (current: \(snapshot.releases.current ?? "none"))"
            )
          }
        }
        if var target = record {
          target.how = .rollback(of: snapshot.releases.current ?? target.id)
          targets.releases[i] = target
        }
      }
      guard problems.isEmpty else {
        throw .refused("nothing was changed:\n  " + problems.joined(separator: "\n  "))
      }
      if let first = active.compactMap({ targets.releases[$0] }).first {
        targets.release = ReleaseRef(id: first.id, image: first.image)
      }
    }
    return targets
  }

  /// What a host records when the command ends, from how it ended.
  public static func commit(
    _ request: RolloutRequest, phase: RolloutMachine.Phase, target: ReleaseRecord?, snapshot: HostSnapshot,
    holder: LockHolder, keep: Int, now: Date = Date(), verified: Bool? = nil
  ) -> HostCommit {
    var commit = HostCommit(holder: holder)
    let previous = snapshot.releases.current
    let command: AuditCommand =
      switch request.kind {
      case .deploy: .deploy
      case .promote: .promote
      case .rollback: .rollback
      }
    var from: String?
    if case .promote(let source, _, _) = request.kind { from = source }
    func audit(_ release: ReleaseRecord, _ result: AuditResult) -> AuditEntry {
      AuditEntry(
        time: now, user: request.user, origin: ProcessInfo.processInfo.hostName, command: command,
        environment: request.plan.environment, release: release.id, image: release.container.image,
        result: result, run: request.runID, from: from, previous: previous)
    }
    if case .failedEarly = phase {
      // Reached, but a step failed before anything changed (a pull, a missing network): the
      // attempt is on record, with the image asked for.
      var image: ImageReference?
      switch request.kind {
      case .deploy(let requested), .promote(_, _, let requested): image = requested
      case .rollback: image = nil
      }
      commit.audit = AuditEntry(
        time: now, user: request.user, origin: ProcessInfo.processInfo.hostName, command: command,
        environment: request.plan.environment, release: nil, image: image, result: .failed,
        run: request.runID, from: from, previous: previous)
      return commit
    }
    guard let target else { return commit }
    let isRollback: Bool
    if case .rollback = request.kind { isRollback = true } else { isRollback = false }
    switch phase {
    case .healthy:
      var release = target
      release.result = .deployed
      if let verified { release.verified = verified }
      let known = [release] + snapshot.releases.records.filter { $0.id != release.id }
      let kept = Array(known.filter { $0.result == .deployed || $0.id == release.id }.prefix(max(1, keep)))
      commit.forget = known.filter { record in !kept.contains { $0.id == record.id } }
      commit.records = [release]
      if isRollback {
        // Going back to `release` undoes every release deployed after it: they no longer count as
        // the one to go back to, so the next rollback returns to what the host really ran before.
        for undone in kept where undone.id != release.id && undone.createdAt > release.createdAt {
          var record = undone
          record.result = .rolledBack
          commit.records.append(record)
        }
      }
      commit.current = .set(release.id)
      commit.audit = audit(release, .succeeded)
    case .restored(let reason):
      let undone = reason.isUndo
      let back = snapshot.current
      if isRollback {
        // The target is an existing record: kept as it was; only the audit line tells.
        commit.current = back.map { .set($0.id) } ?? .keep
      } else {
        var record = target
        record.result = undone ? .rolledBack : .failed
        if let verified { record.verified = verified }
        commit.records = [record]
        commit.current = back.map { .set($0.id) } ?? .remove
      }
      var undoneRecord = target
      undoneRecord.result = undone ? .rolledBack : .failed
      commit.audit = audit(undoneRecord, .rolledBack)
    case .restoreFailed:
      commit.audit = audit(target, .needsAttention)
    default:
      break
    }
    return commit
  }
}
