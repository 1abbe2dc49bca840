import DeployConfig
import DeployTransport
import Foundation

/// One run that put a release on an environment's hosts (`deployctl history`), put together
/// from the audit lines and release records the hosts keep; or one lock takeover (`how:
/// lock-takeover`, no release), the trace a run that was killed or cut off leaves behind.
public struct HistoryEntry: Codable, Sendable, Equatable {
  public struct Host: Codable, Sendable, Equatable {
    public var name: String
    /// `succeeded`, `rolled_back` (went back to the previous release) or `needs_attention`.
    public var result: String
  }

  /// Nil for a lock takeover.
  public var release: String?
  /// `repo@sha256:…`.
  public var image: String?
  public var digest: String?
  public var tag: String?
  public var user: String
  public var time: Date
  /// `deploy`, `promote`, `rollback`, `lock-takeover`, `maintenance-on` or `maintenance-off`.
  public var how: String
  /// `promote`: the environment the digest came from.
  public var from: String?
  /// The release the hosts ran before (when they agree).
  public var previous: String?
  /// `succeeded` (every host), `partial` (some hosts went back), `rolled_back` (every host went
  /// back) or `needs_attention` (a host could not be restored).
  public var result: String
  public var hosts: [Host]
  /// Runs now on at least one host.
  public var live: Bool
  /// `lock-takeover`: the run whose lock was taken over (user@machine, pid, command, start).
  @OmittedWhenNil public var holder: String? = nil
  /// A plan with `roles:`: the roles the release's record holds (all moved together).
  @OmittedWhenNil public var roles: [String]? = nil
  /// `lock-takeover`: how long before the takeover that run last renewed its lease, in seconds.
  @OmittedWhenNil public var staleS: Int? = nil

  enum CodingKeys: String, CodingKey {
    case release, image, digest, tag, user, time, how, from, previous, result, hosts, live, holder, roles
    case staleS = "stale_s"
  }

  /// `promote from staging`, `rollback`, `deploy`, `lock-takeover`.
  public var howText: String {
    from.map { "\(how) from \($0)" } ?? how
  }
}

/// What one host's records told `history` (or why they could not be read).
public struct HistoryHost: Codable, Sendable, Equatable {
  public var name: String
  public var reachable: Bool
  /// Its current release.
  public var release: String?
  public var error: String?
}

/// Reads every host's release records and audit log and merges them into runs, newest first.
public struct EnvironmentHistory: Sendable {
  public var plan: EnvironmentPlan
  public var progress: ProgressLog
  public var parallel: Int
  /// Audit lines read per host.
  public var auditLines: Int

  public init(plan: EnvironmentPlan, progress: ProgressLog, parallel: Int? = nil, auditLines: Int = 2000) {
    self.plan = plan
    self.progress = progress
    self.parallel = plan.readParallelism(parallel)
    self.auditLines = auditLines
  }

  /// What one host keeps.
  struct Kept: Sendable {
    var releases: HostReleases
    var audit: [AuditEntry]
  }

  public func read() async -> HistoryReport {
    let connections = SSHConnections()
    let outcomes = await FanOut.run(plan.hosts, parallel: parallel, name: { $0.host.name }) { plan in
      let transport = SSHTransport(target: plan.host.sshTarget, connections: connections)
      return try await RemoteHost.with(plan.host.name, transport, progress: progress) { remote in
        let reading = try await remote.read(
          try HostPaths(app: plan.app, environment: plan.environment), auditLines: auditLines,
          step: "read history")
        return Kept(releases: reading.releases, audit: reading.audit)
      }
    }
    await connections.closeAll()
    var kept: [(host: String, Kept)] = []
    var hosts: [HistoryHost] = []
    for outcome in outcomes {
      if let value = outcome.value {
        kept.append((outcome.host, value))
        hosts.append(HistoryHost(name: outcome.host, reachable: true, release: value.releases.current))
      } else {
        hosts.append(
          HistoryHost(
            name: outcome.host, reachable: false, release: nil,
            error: outcome.error.map { String(describing: $0) }))
      }
    }
    return HistoryReport(
      environment: plan.environment, app: plan.app, releases: Self.merge(kept, environment: plan.environment),
      hosts: hosts)
  }

  /// One entry per run: audit lines of the same run (same `run` id; older lines without one:
  /// same command and release) on several hosts become one entry; release records fill in the
  /// tag and origin, and stand in for runs whose audit lines were cut off. A lock takeover is an
  /// entry of its own (one per taking run, or per previous holder), so a run that was killed
  /// before it recorded anything still shows, by the takeover that ended its lock.
  static func merge(_ kept: [(host: String, Kept)], environment: String) -> [HistoryEntry] {
    var records: [String: ReleaseRecord] = [:]
    var live = Set<String>()
    for (_, host) in kept {
      for record in host.releases.records where records[record.id] == nil { records[record.id] = record }
      if let current = host.releases.current { live.insert(current) }
    }
    let installs: Set<AuditCommand> = [.deploy, .promote, .rollback]
    let runs = group(kept) { entry in
      guard installs.contains(entry.command), entry.environment == environment, let release = entry.release
      else { return nil }
      return entry.run.map { "run \($0)" } ?? "\(entry.command.rawValue) \(release)"
    }
    let takeovers = group(kept) { entry in
      guard entry.command == .lockTakeover, entry.environment == environment else { return nil }
      return entry.run.map { "run \($0)" } ?? "holder \(entry.holder ?? "")"
    }
    let maintenance = group(kept) { entry in
      guard [.maintenanceOn, .maintenanceOff].contains(entry.command), entry.environment == environment else {
        return nil
      }
      return "run \(entry.run ?? "") \(entry.command.rawValue)"
    }
    var entries = runs.compactMap { install($0, records: records, live: live) }
    entries += takeovers.compactMap(takeover)
    entries += maintenance.compactMap(maintenanceChange)
    // Releases whose audit lines are gone (log cut off, or written by hand) still show.
    let seen = Set(entries.compactMap(\.release))
    for record in records.values where !seen.contains(record.id) {
      entries.append(unlogged(record, kept: kept, live: live))
    }
    entries.sort { ($0.time, $0.release ?? "") > ($1.time, $1.release ?? "") }
    // A release that went out more than once (deployed, later rolled back to) is live only in
    // its newest run.
    var marked = Set<String>()
    for i in entries.indices where entries[i].live {
      entries[i].live = entries[i].release.map { marked.insert($0).inserted } ?? false
    }
    return entries
  }

  typealias AuditLines = [(host: String, entry: AuditEntry)]

  /// The hosts' audit lines that have a `key`, grouped by it, in the order each group first appears.
  static func group(_ kept: [(host: String, Kept)], by key: (AuditEntry) -> String?) -> [AuditLines] {
    var groups: [String: AuditLines] = [:]
    var order: [String] = []
    for (name, host) in kept {
      for entry in host.audit {
        guard let key = key(entry) else { continue }
        if groups[key] == nil { order.append(key) }
        groups[key, default: []].append((name, entry))
      }
    }
    return order.compactMap { groups[$0] }
  }

  /// A deploy, promote or rollback, from its audit lines and its release record.
  static func install(_ lines: AuditLines, records: [String: ReleaseRecord], live: Set<String>)
    -> HistoryEntry?
  {
    guard let first = lines.min(by: { $0.entry.time < $1.entry.time })?.entry, let release = first.release
    else { return nil }
    let record = records[release]
    let previous = Set(lines.compactMap(\.entry.previous))
    var from = first.from
    if first.command == .promote, from == nil, case .promote(let source, _)? = record?.how { from = source }
    var entry = HistoryEntry(
      release: release, image: first.image ?? record?.image,
      digest: (first.digest ?? record?.digest)?.value,
      tag: first.tag ?? record?.tag, user: first.user,
      // A deploy or promote made its release (and id) when it started; a rollback reuses one.
      time: first.command != .rollback ? record?.createdAt ?? first.time : first.time,
      how: first.command.rawValue,
      from: from, previous: previous.count == 1 ? previous.first : nil,
      result: Self.overall(lines.map(\.entry.result)), hosts: hosts(lines), live: live.contains(release))
    entry.roles = record?.roles?.map(\.name)
    return entry
  }

  static func takeover(_ lines: AuditLines) -> HistoryEntry? {
    guard let first = lines.min(by: { $0.entry.time < $1.entry.time })?.entry else { return nil }
    var entry = HistoryEntry(
      release: nil, image: nil, digest: nil, tag: nil, user: first.user, time: first.time,
      how: AuditCommand.lockTakeover.rawValue, from: nil, previous: nil,
      result: Self.overall(lines.map(\.entry.result)), hosts: hosts(lines), live: false)
    entry.holder = lines.lazy.compactMap(\.entry.holder).first
    entry.staleS = lines.compactMap(\.entry.stale).max()
    return entry
  }

  /// `maintenance on|off`: no release goes out; the proxy answers 503 (or routes again).
  static func maintenanceChange(_ lines: AuditLines) -> HistoryEntry? {
    guard let first = lines.min(by: { $0.entry.time < $1.entry.time })?.entry else { return nil }
    return HistoryEntry(
      release: nil, image: nil, digest: nil, tag: nil, user: first.user, time: first.time,
      how: first.command.rawValue, from: nil, previous: nil, result: Self.overall(lines.map(\.entry.result)),
      hosts: hosts(lines), live: false)
  }

  static func hosts(_ lines: AuditLines) -> [HistoryEntry.Host] {
    lines.sorted { $0.host < $1.host }.map {
      HistoryEntry.Host(name: $0.host, result: $0.entry.result.rawValue)
    }
  }

  /// A release known only by its record, on the hosts that keep it.
  static func unlogged(_ record: ReleaseRecord, kept: [(host: String, Kept)], live: Set<String>)
    -> HistoryEntry
  {
    let how: String
    var from: String?
    switch record.how {
    case .deploy: how = "deploy"
    case .promote(let source, _):
      how = "promote"
      from = source
    case .rollback: how = "rollback"
    }
    let holders = kept.filter { $0.1.releases.records.contains { $0.id == record.id } }.map(\.host).sorted()
    let result = record.result == .deployed ? "succeeded" : record.result.rawValue
    return HistoryEntry(
      release: record.id, image: record.image, digest: record.digest.value, tag: record.tag,
      user: record.user,
      time: record.createdAt, how: how, from: from, previous: nil, result: result,
      hosts: holders.map { HistoryEntry.Host(name: $0, result: result) }, live: live.contains(record.id))
  }

  static func overall(_ results: [AuditResult]) -> String {
    if results.contains(.needsAttention) { return AuditResult.needsAttention.rawValue }
    if results.allSatisfy({ $0 == .succeeded }) { return AuditResult.succeeded.rawValue }
    if results.contains(.succeeded) { return "partial" }
    if results.allSatisfy({ $0 == .failed }) { return AuditResult.failed.rawValue }
    return AuditResult.rolledBack.rawValue
  }
}
