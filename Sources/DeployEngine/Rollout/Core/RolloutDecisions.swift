import DeployConfig
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
    switch request.kind {
    case .deploy(let image), .promote(_, _, let image):
      var pinned = image
      if image.digest == nil, let resolved { pinned = image.resolved(to: resolved) }
      return try newRelease(
        pinned, request, snapshots: snapshots, plans: plans, envFile: envFile, now: now)
    case .rollback(let wanted):
      return try keptRelease(wanted, snapshots: snapshots, plans: plans)
    }
  }

  /// A deploy's or promote's target: one new release of `image` on every host.
  private static func newRelease(
    _ image: ImageReference, _ request: RolloutRequest, snapshots: [Int: HostSnapshot], plans: [ResolvedPlan],
    envFile: (ResolvedPlan, String) throws -> String?, now: Date
  ) throws(RolloutError) -> Targets {
    let active = snapshots.keys.sorted()
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
    let id = ReleaseRecord.makeID(at: now)
    let how: ReleaseOrigin
    if case .promote(let from, let release, _) = request.kind {
      how = .promote(from: from, release: release)
    } else {
      how = .deploy
    }
    var targets = Targets()
    for i in active {
      let file: String?
      do {
        file = try envFile(plans[i], id)
      } catch {
        throw .refused("\(plans[i].host.name): \(error)")
      }
      let roles = plans[i].roles.map { role in
        RoleRecord(
          name: role.name, container: plans[i].forRole(role).runSpec(image: image, release: id, envFile: file)
        )
      }
      let spec = roles.first?.container ?? plans[i].runSpec(image: image, release: id, envFile: file)
      if image.digest == nil {
        // A dry run does not pull, so a tag stays unresolved.
        targets.planned[i] = spec
        continue
      }
      do {
        targets.releases[i] = try ReleaseRecord(
          container: spec, createdAt: now, user: request.user, how: how, result: .deployed)
        if !roles.isEmpty { targets.releases[i]?.roles = roles }
      } catch {
        throw .refused("\(plans[i].host.name): \(error)")
      }
    }
    targets.release = ReleaseRef(
      id: image.digest == nil ? "(new)" : id, image: image.pinned ?? image.description)
    return targets
  }

  /// A rollback's target: on every host, the kept release `wanted` names, or the one before the
  /// current.
  private static func keptRelease(
    _ wanted: String?, snapshots: [Int: HostSnapshot], plans: [ResolvedPlan]
  ) throws(RolloutError) -> Targets {
    var targets = Targets()
    var problems: [String] = []
    for i in snapshots.keys.sorted() {
      guard let snapshot = snapshots[i] else { continue }
      switch kept(wanted, in: snapshot) {
      case .success(var target):
        target.how = .rollback(of: snapshot.releases.current ?? target.id)
        targets.releases[i] = target
      case .failure(let problem):
        problems.append("\(plans[i].host.name): \(problem)")
      }
    }
    guard problems.isEmpty else {
      throw .refused("nothing was changed:\n  " + problems.joined(separator: "\n  "))
    }
    if let first = snapshots.keys.sorted().compactMap({ targets.releases[$0] }).first {
      targets.release = ReleaseRef(id: first.id, image: first.image)
    }
    return targets
  }

  /// Why a host has no release to go back to.
  private struct NoKeptRelease: Error, CustomStringConvertible {
    var description: String
  }

  /// The kept release `wanted` names (id, tag, digest, image, or a digest prefix of 12 or more),
  /// or without it the one before the current.
  private static func kept(_ wanted: String?, in snapshot: HostSnapshot) -> Result<
    ReleaseRecord, NoKeptRelease
  > {
    guard let wanted else {
      if let previous = snapshot.previous { return .success(previous) }
      return .failure(
        NoKeptRelease(
          description: "no earlier release to go back to (current: \(snapshot.releases.current ?? "none"))"))
    }
    let record = snapshot.releases.records.first { r in
      r.id == wanted || r.tag == wanted || r.digest.value == wanted || r.image == wanted
        || r.digest.hex.hasPrefix(wanted.replacingOccurrences(of: "sha256:", with: "")) && wanted.count >= 12
    }
    if let record { return .success(record) }
    let kept = snapshot.releases.records.map { "\($0.id) (\($0.tag ?? $0.digest.short))" }
    return .failure(
      NoKeptRelease(
        description: "no kept release matches \(wanted); kept: "
          + (kept.isEmpty ? "none" : kept.joined(separator: ", "))
      ))
  }

  /// What a host records when the command ends, from how it ended.
  public static func commit(
    _ request: RolloutRequest, phase: RolloutMachine.Phase, target: ReleaseRecord?, snapshot: HostSnapshot,
    holder: LockHolder, keep: Int, now: Date = Date(), verified: Bool? = nil
  ) -> HostCommit {
    var commit = HostCommit(holder: holder)
    let audit = AuditLine(request: request, previous: snapshot.releases.current, now: now)
    if case .failedEarly = phase {
      // Reached, but a step failed before anything changed (a pull, a missing network): the
      // attempt is on record, with the image asked for.
      commit.audit = audit.failedEarly()
      return commit
    }
    guard let target else { return commit }
    switch phase {
    case .healthy:
      var release = target
      release.result = .deployed
      if let verified { release.verified = verified }
      commit = deployed(release, request, snapshot: snapshot, holder: holder, keep: keep)
      commit.audit = audit.entry(release, .succeeded)
    case .restored(let reason):
      commit = restored(
        target, request, undone: reason.isUndo, snapshot: snapshot, holder: holder, verified: verified)
      commit.audit = audit.entry(target, .rolledBack)
    case .restoreFailed:
      commit.audit = audit.entry(target, .needsAttention)
    default:
      break
    }
    return commit
  }

  /// A host now runs `release`: it becomes current, and releases beyond `keep` are forgotten.
  private static func deployed(
    _ release: ReleaseRecord, _ request: RolloutRequest, snapshot: HostSnapshot, holder: LockHolder, keep: Int
  ) -> HostCommit {
    var commit = HostCommit(holder: holder)
    let known = [release] + snapshot.releases.records.filter { $0.id != release.id }
    let kept = Array(known.filter { $0.result == .deployed || $0.id == release.id }.prefix(max(1, keep)))
    commit.forget = known.filter { record in !kept.contains { $0.id == record.id } }
    commit.records = [release]
    if case .rollback = request.kind {
      // Going back to `release` undoes every release deployed after it: they no longer count as
      // the one to go back to, so the next rollback returns to what the host really ran before.
      for undone in kept where undone.id != release.id && undone.createdAt > release.createdAt {
        var record = undone
        record.result = .rolledBack
        commit.records.append(record)
      }
    }
    commit.current = .set(release.id)
    return commit
  }

  /// A host went back to what it ran before `target`.
  private static func restored(
    _ target: ReleaseRecord, _ request: RolloutRequest, undone: Bool, snapshot: HostSnapshot,
    holder: LockHolder,
    verified: Bool?
  ) -> HostCommit {
    var commit = HostCommit(holder: holder)
    let back = snapshot.current
    if case .rollback = request.kind {
      // The target is an existing record: kept as it was; only the audit line tells.
      commit.current = back.map { .set($0.id) } ?? .keep
    } else {
      var record = target
      record.result = undone ? .rolledBack : .failed
      if let verified { record.verified = verified }
      commit.records = [record]
      commit.current = back.map { .set($0.id) } ?? .remove
    }
    return commit
  }

  /// The audit line a host appends as the command ends.
  private struct AuditLine {
    var request: RolloutRequest
    var previous: String?
    var now: Date

    var command: AuditCommand {
      switch request.kind {
      case .deploy: .deploy
      case .promote: .promote
      case .rollback: .rollback
      }
    }

    var from: String? {
      if case .promote(let source, _, _) = request.kind { return source }
      return nil
    }

    func entry(_ release: ReleaseRecord, _ outcome: AuditResult) -> AuditEntry {
      AuditEntry(
        time: now, user: request.user, origin: ProcessInfo.processInfo.hostName, command: command,
        environment: request.plan.environment, release: release.id, image: release.container.image,
        result: outcome, run: request.runID, from: from, previous: previous)
    }

    /// A host that failed before any change: no release, the image asked for.
    func failedEarly() -> AuditEntry {
      var image: ImageReference?
      switch request.kind {
      case .deploy(let requested), .promote(_, _, let requested): image = requested
      case .rollback: image = nil
      }
      return AuditEntry(
        time: now, user: request.user, origin: ProcessInfo.processInfo.hostName, command: command,
        environment: request.plan.environment, release: nil, image: image, result: .failed,
        run: request.runID, from: from, previous: previous)
    }
  }
}
