import DeployConfig
import Foundation

/// How a release came to be.
public enum ReleaseOrigin: Sendable, Equatable, Codable {
  /// `deployctl deploy`.
  case deploy
  /// `deployctl promote FROM …`: the digest verified in environment `from`, where it ran as
  /// release `release`.
  case promote(from: String, release: String? = nil)
  /// `deployctl rollback`: re-deploys release `of`.
  case rollback(of: String)

  enum CodingKeys: String, CodingKey { case kind, from, release, of }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    switch try c.decode(String.self, forKey: .kind) {
    case "deploy": self = .deploy
    case "promote":
      self = .promote(
        from: try c.decode(String.self, forKey: .from),
        release: try c.decodeIfPresent(String.self, forKey: .release))
    case "rollback": self = .rollback(of: try c.decode(String.self, forKey: .of))
    case let other:
      throw DecodingError.dataCorruptedError(
        forKey: .kind, in: c, debugDescription: "unknown release origin \(other)")
    }
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    switch self {
    case .deploy:
      try c.encode("deploy", forKey: .kind)
    case .promote(let from, let release):
      try c.encode("promote", forKey: .kind)
      try c.encode(from, forKey: .from)
      try c.encodeIfPresent(release, forKey: .release)
    case .rollback(let of):
      try c.encode("rollback", forKey: .kind)
      try c.encode(of, forKey: .of)
    }
  }

  /// For people: `deploy`, `promote from staging`, `rollback of 20261121-171530-3fa9`.
  public var text: String {
    switch self {
    case .deploy: "deploy"
    case .promote(let from, _): "promote from \(from)"
    case .rollback(let of): "rollback of \(of)"
    }
  }
}

public enum ReleaseResult: String, Sendable, Codable {
  /// Ran and passed its health check.
  case deployed
  /// Failed its health check or a step; the host went back to the previous release.
  case failed
  /// Was healthy, then undone because the rollout as a whole failed.
  case rolledBack = "rolled_back"
}

/// What a host knows about one release: enough to re-create its container exactly (secrets
/// excepted: the record holds the env file's path, never a value).
public struct ReleaseRecord: Sendable, Equatable, Codable {
  public var id: String
  public var app: String
  public var environment: String
  /// `repo@sha256:…`.
  public var image: String
  public var digest: ImageDigest
  /// The tag the digest was resolved from, if any.
  public var tag: String?
  public var createdAt: Date
  /// Who ran the command (local user name or CI actor).
  public var user: String
  public var how: ReleaseOrigin
  public var container: ContainerRunSpec
  public var result: ReleaseResult
  /// Whether the release passed the plan's verification (`verify:`) here; nil when none ran.
  public var verified: Bool?
  /// true when the plan's `release_command` ran for this digest: in this environment, or for a
  /// promote in the environment it came from (a promote does not run it again); nil otherwise.
  public var releaseCommandRan: Bool?
  /// With `roles:`: every role's container on this host, in the plan's order (`container` is the
  /// first one's); nil for a plan without roles, and in older records.
  public var roles: [RoleRecord]?

  /// `container.image` must be pinned to a digest; id, app and environment come from it.
  public init(
    container: ContainerRunSpec, createdAt: Date, user: String, how: ReleaseOrigin, result: ReleaseResult
  ) throws(DockerError) {
    guard let digest = container.image.digest, let pinned = container.image.pinned else {
      throw .invalidSpec(["release \(container.release): image \(container.image) is not pinned to a digest"])
    }
    try NameRules.checkName(container.release, kind: "release id")
    id = container.release
    app = container.app
    environment = container.environment
    image = pinned
    self.digest = digest
    tag = container.image.tag
    self.createdAt = HostStateJSON.millisecondDate(createdAt)
    self.user = user
    self.how = how
    self.container = container
    self.result = result
  }

  /// A new release id: UTC time to the second, then 4 random hex digits so two deploys in the
  /// same second differ (`20261121-171530-3fa9`). Sorts by time; fits HostPaths' rule.
  public static func makeID(at date: Date = Date()) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = .gmt
    let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
    func two(_ value: Int?) -> String { String(format: "%02d", value ?? 0) }
    let suffix = String(format: "%04x", UInt16.random(in: .min ... .max))
    return
      "\(c.year ?? 0)\(two(c.month))\(two(c.day))-\(two(c.hour))\(two(c.minute))\(two(c.second))-\(suffix)"
  }

  enum CodingKeys: String, CodingKey {
    case id, app, environment, image, digest, tag, user, how, container, result, verified, roles
    case createdAt = "created_at"
    case releaseCommandRan = "release_command_ran"
  }
}

/// One role's container in a release record.
public struct RoleRecord: Sendable, Equatable, Codable {
  public var name: String
  public var container: ContainerRunSpec

  public init(name: String, container: ContainerRunSpec) {
    self.name = name
    self.container = container
  }
}

/// What `HostState.readReleases` found on a host.
public struct HostReleases: Sendable, Equatable {
  /// The id in `releases/<env>/current`, if any.
  public var current: String?
  /// Newest first.
  public var records: [ReleaseRecord]
  /// Files that could not be read, with the reason; a damaged record does not hide the others.
  public var unreadable: [String]

  public var currentRecord: ReleaseRecord? {
    current.flatMap { id in records.first { $0.id == id } }
  }
}

/// The operations the engine sends an audit entry for.
public enum AuditCommand: String, Sendable, Codable {
  case deploy, promote, rollback, exec
  case lockRelease = "lock-release"
  /// A run took over a lock whose holder had stopped renewing it.
  case lockTakeover = "lock-takeover"
  /// `deployctl maintenance ENV on|off`: the proxy answers 503 instead of routing, or routes again.
  case maintenanceOn = "maintenance-on"
  case maintenanceOff = "maintenance-off"
}

public enum AuditResult: String, Sendable, Codable {
  case succeeded, failed
  case rolledBack = "rolled_back"
  /// Could not be restored: a person must look.
  case needsAttention = "needs_attention"
}

/// One line of `audit.log`. Built only from typed fields, so no free text (a command line, an
/// environment) can carry a secret into it.
public struct AuditEntry: Sendable, Equatable, Codable {
  public var time: Date
  public var user: String
  /// The machine deployctl ran on.
  public var origin: String
  public var command: AuditCommand
  public var environment: String
  public var release: String?
  /// `repo@sha256:…`.
  public var image: String?
  public var digest: ImageDigest?
  /// The tag the digest was resolved from, if any.
  public var tag: String?
  public var result: AuditResult
  /// One id per command run, the same on every host, so `history` can tell runs apart.
  public var run: String?
  /// `promote`: the environment the digest came from.
  public var from: String?
  /// The release the host ran before this command.
  public var previous: String?
  /// `lock-takeover`: who held the lock before (user@machine, pid, command).
  public var holder: String?
  /// `lock-takeover`: how long before the takeover the previous holder last renewed, in seconds.
  public var stale: Int?

  public init(
    time: Date, user: String, origin: String, command: AuditCommand, environment: String, release: String?,
    image: ImageReference?, result: AuditResult, run: String? = nil, from: String? = nil,
    previous: String? = nil
  ) {
    self.time = HostStateJSON.millisecondDate(time)
    self.user = user
    self.origin = origin
    self.command = command
    self.environment = environment
    self.release = release
    self.image = image.flatMap { $0.pinned ?? $0.description }
    self.digest = image?.digest
    self.tag = image?.tag
    self.result = result
    self.run = run
    self.from = from
    self.previous = previous
  }

  /// Reads `audit.log` lines (e.g. from `HostState.readAudit`), skipping lines it cannot read.
  public static func parseLines(_ output: String) -> [AuditEntry] {
    let decoder = HostStateJSON.decoder()
    return output.split(separator: "\n").compactMap {
      // The log is append-only and shared with other versions of deployctl (and with a line a
      // killed run cut short): one line that is not an entry must not hide the others.
      try? decoder.decode(AuditEntry.self, from: Data($0.utf8))
    }
  }
}
