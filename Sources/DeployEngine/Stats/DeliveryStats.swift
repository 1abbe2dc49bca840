import DeployConfig
import DeployTransport
import Foundation

/// `deployctl stats ENV`: the four DORA keys of an environment, computed from what its hosts
/// keep (audit logs and release records under /var/lib/deployctl/<app>/) and, for lead time,
/// the images' creation times read on the hosts (docs/commands.md "stats").
public struct DeliveryStats: Sendable {
  public var plan: EnvironmentPlan
  public var progress: ProgressLog
  public var parallel: Int
  /// The window: from `now - since` to `now`.
  public var since: Duration
  public var auditLines: Int

  public init(
    plan: EnvironmentPlan, progress: ProgressLog, since: Duration, parallel: Int? = nil,
    auditLines: Int = 5000
  ) {
    self.plan = plan
    self.progress = progress
    self.since = since
    self.parallel = plan.readParallelism(parallel)
    self.auditLines = auditLines
  }

  /// What one host keeps, and when its images were made.
  struct Kept: Sendable {
    var history: EnvironmentHistory.Kept
    /// `sha256:…` (the repository digest) → when the image was made.
    var created: [String: Date]
  }

  public func read(now: Date = Date()) async -> StatsReport {
    let connections = SSHConnections()
    let outcomes = await FanOut.run(plan.hosts, parallel: parallel, name: { $0.host.name }) { plan in
      let transport = SSHTransport(target: plan.host.sshTarget, connections: connections)
      return try await RemoteHost.with(plan.host.name, transport, progress: progress) { remote in
        let reading = try await remote.read(
          try HostPaths(app: plan.app, environment: plan.environment), auditLines: auditLines,
          step: "read history")
        let images = Set(reading.releases.records.map(\.image)).sorted()
        var created: [String: Date] = [:]
        if !images.isEmpty {
          // Images of forgotten releases are gone: inspect answers for the others and fails
          // for those, which only leaves their lead time unknown.
          let answer = try await remote.exec(Self.inspectImages(images), timeout: .seconds(60))
          created = Self.parseCreated(answer.stdout)
        }
        return Kept(
          history: EnvironmentHistory.Kept(releases: reading.releases, audit: reading.audit), created: created
        )
      }
    }
    await connections.closeAll()
    var kept: [(host: String, Kept)] = []
    var hosts: [HistoryHost] = []
    for outcome in outcomes {
      if let value = outcome.value {
        kept.append((outcome.host, value))
        hosts.append(
          HistoryHost(name: outcome.host, reachable: true, release: value.history.releases.current))
      } else {
        hosts.append(
          HistoryHost(
            name: outcome.host, reachable: false, release: nil,
            error: outcome.error.map { String(describing: $0) }))
      }
    }
    var created: [String: Date] = [:]
    for (_, host) in kept { created.merge(host.created) { min($0, $1) } }
    let runs = Self.runs(kept.map { ($0.host, $0.1.history) }, environment: plan.environment)
    var report = Self.compute(
      runs: runs, imageCreated: created, from: now.addingTimeInterval(-since.seconds), to: now)
    report.environment = plan.environment
    report.app = plan.app
    report.hosts = hosts
    report.settle()
    return report
  }

  /// `docker image inspect` of `images`, one line each: its repository digests, then the
  /// `org.opencontainers.image.created` label and Docker's own creation time.
  static func inspectImages(_ images: [String]) -> RemoteCommand {
    RemoteCommand(
      [
        "docker", "image", "inspect", "--format",
        "{{range .RepoDigests}}{{.}},{{end}} {{index .Config.Labels \"org.opencontainers.image.created\"}} {{.Created}}",
      ] + images)
  }

  /// The lines of `inspectImages`: digest → creation time (the label when it is a valid RFC 3339
  /// time, else Docker's).
  static func parseCreated(_ output: String) -> [String: Date] {
    var created: [String: Date] = [:]
    for line in output.split(separator: "\n") {
      let fields = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
      guard fields.count >= 3 else { continue }
      let label = fields[1]
      let docker = fields[2...].joined(separator: " ")
      guard let time = parseTime(label) ?? parseTime(docker) else { continue }
      for reference in fields[0].split(separator: ",") {
        guard let at = reference.range(of: "@") else { continue }
        created[String(reference[at.upperBound...])] = time
      }
    }
    return created
  }

  /// RFC 3339 with or without fractional seconds (Docker writes nanoseconds; a label anything).
  package static func parseTime(_ text: String) -> Date? {
    guard !text.isEmpty else { return nil }
    let plain = ISO8601DateFormatter()
    if let date = plain.date(from: text) { return date }
    // Foundation reads at most milliseconds: cut the fraction to three digits.
    var trimmed = text
    if let dot = text.firstIndex(of: "."),
      let end = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" })
    {
      let digits = text[text.index(after: dot)..<end]
      trimmed =
        String(text[..<dot]) + "."
        + String(digits.prefix(3)).padding(toLength: 3, withPad: "0", startingAt: 0)
        + String(text[end...])
    }
    let fractional = ISO8601DateFormatter()
    fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return fractional.date(from: trimmed)
  }

  // MARK: Runs

  /// One deploy, promote or rollback run, from its audit lines on every host.
  public struct Run: Sendable, Equatable {
    public var release: String
    /// `deploy`, `promote` or `rollback`.
    public var how: AuditCommand
    /// The earliest and latest audit line of the run (the hosts' lines are written as each
    /// finishes; the last one is when the run went live everywhere).
    public var start: Date
    public var end: Date
    /// `sha256:…`, when the run names it.
    public var digest: String?
    public var previous: String?
    /// `succeeded`, `partial`, `rolled_back`, `failed` or `needs_attention`
    /// (`EnvironmentHistory.overall`).
    public var result: String

    public init(
      release: String, how: AuditCommand, start: Date, end: Date, digest: String? = nil,
      previous: String? = nil,
      result: String
    ) {
      self.release = release
      self.how = how
      self.start = start
      self.end = end
      self.digest = digest
      self.previous = previous
      self.result = result
    }
  }

  /// The runs of `environment`, oldest first, grouped as `history` groups them.
  static func runs(_ kept: [(host: String, EnvironmentHistory.Kept)], environment: String) -> [Run] {
    let installs: Set<AuditCommand> = [.deploy, .promote, .rollback]
    let groups = EnvironmentHistory.group(kept) { entry in
      guard installs.contains(entry.command), entry.environment == environment, let release = entry.release
      else { return nil }
      return entry.run.map { "run \($0)" } ?? "\(entry.command.rawValue) \(release)"
    }
    var digests: [String: String] = [:]
    for (_, host) in kept {
      for record in host.releases.records { digests[record.id] = record.digest.value }
    }
    let runs = groups.compactMap { lines -> Run? in
      let times = lines.map(\.entry.time)
      guard let first = lines.min(by: { $0.entry.time < $1.entry.time })?.entry, let release = first.release,
        let start = times.min(), let end = times.max()
      else { return nil }
      let previous = Set(lines.compactMap(\.entry.previous))
      return Run(
        release: release, how: first.command, start: start, end: end,
        digest: first.digest?.value ?? digests[release], previous: previous.count == 1 ? previous.first : nil,
        result: EnvironmentHistory.overall(lines.map(\.entry.result)))
    }
    return runs.sorted { ($0.start, $0.release) < ($1.start, $1.release) }
  }

  // MARK: The four keys

  /// The DORA keys of `runs` (every run the hosts keep, oldest first) over `from...to`.
  public static func compute(runs: [Run], imageCreated: [String: Date], from: Date, to: Date) -> StatsReport {
    var report = StatsReport(from: from, to: to)
    let inWindow = runs.filter { $0.start >= from && $0.start <= to }
    let changes = inWindow.filter { $0.how != .rollback }
    let succeeded = changes.filter { $0.result == AuditResult.succeeded.rawValue }

    // Deployment frequency, with one count per week (the last week ends at `to`).
    let weeks = max(1, Int((to.timeIntervalSince(from) / week).rounded(.up)))
    var weekly = Array(repeating: 0, count: weeks)
    for run in succeeded {
      let back = Int(to.timeIntervalSince(run.start) / week)
      weekly[max(0, weeks - 1 - min(back, weeks - 1))] += 1
    }
    let days = max(to.timeIntervalSince(from) / 86_400, 1.0 / 24)
    report.deploymentFrequency = .init(
      deploys: succeeded.count, attempts: changes.count, perDay: Double(succeeded.count) / days,
      perWeek: Double(succeeded.count) / days * 7, weekly: weekly)

    // Lead time: image made → the run live on every host.
    var leads: [Double] = []
    var unknown = 0
    var clamped = 0
    for run in succeeded {
      guard let digest = run.digest, let made = imageCreated[digest] else {
        unknown += 1
        continue
      }
      let lead = run.end.timeIntervalSince(made)
      if lead < 0 { clamped += 1 }
      leads.append(max(0, lead))
    }
    report.leadTime = .init(
      medianS: median(leads), p90S: percentile(leads, 0.9), samples: leads.count, unknown: unknown)
    if clamped > 0 {
      report.notes.append(
        "\(clamped) image\(clamped == 1 ? " was" : "s were") made after \(clamped == 1 ? "its" : "their") release went live: the clocks of the machine that built \(clamped == 1 ? "it" : "them") and the one that deployed disagree; counted as 0"
      )
    }

    // Change failure rate: changes that failed in their run, or were rolled back later.
    var failed: [Run] = []
    var incidents: [Run] = []
    for run in changes {
      let later = laterRollback(of: run, in: runs)
      if run.result != AuditResult.succeeded.rawValue || later != nil {
        failed.append(run)
        if wentLive(run) { incidents.append(run) }
      }
    }
    report.changeFailureRate = .init(
      rate: changes.isEmpty ? nil : Double(failed.count) / Double(changes.count), failed: failed.count,
      changes: changes.count)

    // Time to restore: a failed change that went live → the next run that succeeded after it.
    var restores: [Double] = []
    var open: [String] = []
    for run in incidents {
      guard
        let next = runs.first(where: { $0.start > run.start && $0.result == AuditResult.succeeded.rawValue })
      else {
        open.append(run.release)
        continue
      }
      let restore = next.end.timeIntervalSince(run.end)
      if restore < 0 {
        report.notes.append(
          "release \(next.release) is recorded as live before \(run.release) ended: the clocks of the machines that ran them disagree; counted as 0"
        )
      }
      restores.append(max(0, restore))
    }
    report.timeToRestore = .init(
      medianS: median(restores), maxS: restores.max(), incidents: incidents.count, restored: restores.count,
      open: open)
    if changes.isEmpty {
      report.notes.append("no deploy or promote in the window")
    } else if succeeded.isEmpty {
      report.notes.append("every change in the window failed")
    }
    if !open.isEmpty {
      report.notes.append(
        "not restored yet (no run succeeded after \(open.count == 1 ? "it" : "them")): \(open.joined(separator: ", "))"
      )
    }
    if inWindow.contains(where: { $0.end.timeIntervalSince($0.start) > 3600 }) {
      report.notes.append(
        "a run's audit lines on its hosts are more than an hour apart: the clocks of the machines that ran it may disagree"
      )
    }
    return report
  }

  static let week: TimeInterval = 7 * 86_400

  /// A `deployctl rollback` that took the environment off `run`'s release: the first rollback
  /// after it whose hosts ran that release before (or did not agree on what they ran), with no
  /// other release gone live in between (a change rolled back in its own run did not).
  static func laterRollback(of run: Run, in runs: [Run]) -> Run? {
    let after = runs.filter { $0.start > run.start }
    for next in after {
      if next.how == .rollback { return next.previous == run.release || next.previous == nil ? next : nil }
      if wentLive(next) { return nil }
    }
    return nil
  }

  /// Whether the run's release ran on some host when it ended.
  static func wentLive(_ run: Run) -> Bool {
    [AuditResult.succeeded.rawValue, "partial", AuditResult.needsAttention.rawValue].contains(run.result)
  }

  static func median(_ values: [Double]) -> Double? { percentile(values, 0.5) }

  /// The nearest-rank percentile; nil for no values.
  static func percentile(_ values: [Double], _ p: Double) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    if p == 0.5, sorted.count % 2 == 0 {
      return (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
    let rank = Int((p * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
  }
}

extension Duration {
  var seconds: TimeInterval {
    let (whole, atto) = components
    return TimeInterval(whole) + TimeInterval(atto) / 1e18
  }
}
