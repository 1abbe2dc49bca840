import DeployConfig
import Foundation

/// The JSON document of `deployctl stats` (docs/json.md "stats"): the four DORA keys of one
/// environment over a window, from what its hosts keep.
public struct StatsReport: Codable, Sendable, Equatable {
  public var command = "stats"
  public var environment = ""
  public var app = ""
  /// `success` when every host was read, else `failed` (the figures are from the others).
  public var result: CommandResult = .success
  public var exitCode: Int32 = 0
  public var from: Date
  public var to: Date
  public var deploymentFrequency = DeploymentFrequency()
  public var leadTime = LeadTime()
  public var changeFailureRate = ChangeFailureRate()
  public var timeToRestore = TimeToRestore()
  /// What the figures leave out or had to assume (no deploys, clocks that disagree, …).
  public var notes: [String] = []
  public var hosts: [HistoryHost] = []

  public init(from: Date, to: Date) {
    self.from = from
    self.to = to
  }

  /// Sets `result` and `exitCode` from the hosts read.
  public mutating func settle() {
    result = hosts.allSatisfy(\.reachable) ? .success : .failed
    exitCode = result.exitStatus.rawValue
  }

  /// Successful deploy and promote runs.
  public struct DeploymentFrequency: Codable, Sendable, Equatable {
    public var deploys = 0
    /// Deploy and promote runs, failed ones too.
    public var attempts = 0
    public var perDay = 0.0
    public var perWeek = 0.0
    /// Successful deploys per week, oldest first; the last week ends at `to`.
    public var weekly: [Int] = []

    public init(
      deploys: Int = 0, attempts: Int = 0, perDay: Double = 0, perWeek: Double = 0, weekly: [Int] = []
    ) {
      self.deploys = deploys
      self.attempts = attempts
      self.perDay = perDay
      self.perWeek = perWeek
      self.weekly = weekly
    }

    enum CodingKeys: String, CodingKey {
      case deploys, attempts, weekly
      case perDay = "per_day"
      case perWeek = "per_week"
    }
  }

  /// From the image's creation to its release live on every host.
  public struct LeadTime: Codable, Sendable, Equatable {
    public var medianS: Double?
    public var p90S: Double?
    public var samples = 0
    /// Successful deploys whose image's creation time is unknown (the image is no longer on
    /// any host).
    public var unknown = 0

    public init(medianS: Double? = nil, p90S: Double? = nil, samples: Int = 0, unknown: Int = 0) {
      self.medianS = medianS
      self.p90S = p90S
      self.samples = samples
      self.unknown = unknown
    }

    enum CodingKeys: String, CodingKey {
      case samples, unknown
      case medianS = "median_s"
      case p90S = "p90_s"
    }
  }

  /// Deploys and promotes that failed, or were rolled back later, of all of them.
  public struct ChangeFailureRate: Codable, Sendable, Equatable {
    /// 0 to 1; nil with no deploys.
    public var rate: Double?
    public var failed = 0
    public var changes = 0

    public init(rate: Double? = nil, failed: Int = 0, changes: Int = 0) {
      self.rate = rate
      self.failed = failed
      self.changes = changes
    }
  }

  /// From a failed release going live to the next run that succeeded.
  public struct TimeToRestore: Codable, Sendable, Equatable {
    public var medianS: Double?
    public var maxS: Double?
    /// Failed changes that went live.
    public var incidents = 0
    public var restored = 0
    /// Releases of incidents no run has restored yet.
    public var open: [String] = []

    public init(
      medianS: Double? = nil, maxS: Double? = nil, incidents: Int = 0, restored: Int = 0, open: [String] = []
    ) {
      self.medianS = medianS
      self.maxS = maxS
      self.incidents = incidents
      self.restored = restored
      self.open = open
    }

    enum CodingKeys: String, CodingKey {
      case incidents, restored, open
      case medianS = "median_s"
      case maxS = "max_s"
    }
  }

  enum CodingKeys: String, CodingKey {
    case command, environment, app, result, from, to, notes, hosts
    case exitCode = "exit_code"
    case deploymentFrequency = "deployment_frequency"
    case leadTime = "lead_time"
    case changeFailureRate = "change_failure_rate"
    case timeToRestore = "time_to_restore"
  }

  // MARK: Text

  /// The text `stats` prints:
  ///
  ///     prod (app web), 2026-09-05 to 2026-12-04 (90 days)
  ///     deployment frequency  12 deploys, 0.13/day, 0.93/week  ▁▃▁█▂▁▁▃▅▁▂▁▃
  ///     lead time             median 2h 3m, p90 1d 4h (10 deploys; 2 images no longer on the hosts)
  ///     change failure rate   25% (3 of 12 deploys)
  ///     time to restore       median 14m, max 1h 2m (2 incidents)
  public var text: String {
    let days = Int((to.timeIntervalSince(from) / 86_400).rounded())
    var lines = [
      "\(environment) (app \(app)), \(Self.day(from)) to \(Self.day(to)) (\(days) day\(days == 1 ? "" : "s"))"
    ]
    func row(_ name: String, _ value: String) {
      lines.append(name.padding(toLength: 22, withPad: " ", startingAt: 0) + value)
    }
    let f = deploymentFrequency
    row(
      "deployment frequency",
      "\(f.deploys) deploy\(f.deploys == 1 ? "" : "s"), \(Self.number(f.perDay))/day, \(Self.number(f.perWeek))/week  "
        + Self.sparkline(f.weekly))
    if let median = leadTime.medianS {
      var text = "median \(Self.duration(median))"
      if let p90 = leadTime.p90S { text += ", p90 \(Self.duration(p90))" }
      text += " (\(leadTime.samples) deploy\(leadTime.samples == 1 ? "" : "s")"
      if leadTime.unknown > 0 {
        text += "; \(leadTime.unknown) image\(leadTime.unknown == 1 ? "" : "s") no longer on the hosts"
      }
      row("lead time", text + ")")
    } else {
      row(
        "lead time",
        leadTime.unknown > 0 ? "unknown (the images are no longer on the hosts)" : "none (no deploys)")
    }
    let c = changeFailureRate
    row(
      "change failure rate",
      c.rate.map { "\(Self.percent($0)) (\(c.failed) of \(c.changes) deploy\(c.changes == 1 ? "" : "s"))" }
        ?? "none (no deploys)")
    let r = timeToRestore
    if let median = r.medianS {
      var text = "median \(Self.duration(median))"
      if let max = r.maxS, r.restored > 1 { text += ", max \(Self.duration(max))" }
      text += " (\(r.restored) incident\(r.restored == 1 ? "" : "s")"
      if !r.open.isEmpty { text += "; \(r.open.count) not restored yet" }
      row("time to restore", text + ")")
    } else {
      row(
        "time to restore",
        r.open.isEmpty
          ? "none (no failed release went live)" : "not restored yet (\(r.open.joined(separator: ", ")))")
    }
    for note in notes { lines.append("note: \(note)") }
    return lines.joined(separator: "\n")
  }

  /// One block per week, ▁ (none) to █ (the busiest week).
  public static func sparkline(_ counts: [Int]) -> String {
    let blocks = Array("▁▂▃▄▅▆▇█")
    let top = counts.max() ?? 0
    return String(
      counts.map { count in
        top == 0 ? blocks[0] : blocks[min(blocks.count - 1, Int((Double(count) / Double(top) * 7).rounded()))]
      })
  }

  static func day(_ date: Date) -> String {
    String(HostStateJSON.format(date).prefix(10))
  }

  static func number(_ value: Double) -> String {
    value == value.rounded() ? String(Int(value)) : String(format: "%.2f", value)
  }

  static func percent(_ share: Double) -> String {
    let value = share * 100
    return (value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)) + "%"
  }

  /// `45s`, `14m 3s`, `2h 3m`, `1d 4h`.
  static func duration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    if s < 60 { return "\(s)s" }
    if s < 3600 { return "\(s / 60)m \(s % 60)s" }
    if s < 86_400 { return "\(s / 3600)h \(s % 3600 / 60)m" }
    return "\(s / 86_400)d \(s % 86_400 / 3600)h"
  }
}
