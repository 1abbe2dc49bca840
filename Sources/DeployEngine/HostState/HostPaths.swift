import DeployConfig

/// Where deployctl keeps its state on a host (docs/operations.md "What lands on a host"):
///
///     /var/lib/deployctl/<app>/
///       audit.log                       JSON lines, one per command run against the host
///       releases/<env>/<release>.json   one record per release (ReleaseRecord)
///       releases/<env>/current          the id of the release running now
///       secrets/<env>/<release>.env     the release's secrets (mode 0600, folder 0700)
///       locks/<env>.lock/holder.json    the environment's lock (HostLock)
///       locks/<env>.lock/lease          its lease: expiry and TTL, by the host's clock
///
/// A host's own state is enough to tell what runs there and to roll it back. App and environment
/// names are checked (`[A-Za-z0-9][A-Za-z0-9_.-]*`) so no path leaves the app's folder.
public struct HostPaths: Sendable, Equatable {
  public static let defaultBase = "/var/lib/deployctl"

  public let app: String
  public let environment: String
  /// `<base>/<app>`.
  public let appDirectory: String

  /// `base` is for tests (a temp dir); hosts use the default.
  public init(app: String, environment: String, base: String = HostPaths.defaultBase) throws(DockerError) {
    try NameRules.checkName(app, kind: "app name")
    try NameRules.checkName(environment, kind: "environment name")
    guard base.hasPrefix("/") else {
      throw .invalidName(kind: "state directory", value: base, reason: "it must be an absolute path")
    }
    self.app = app
    self.environment = environment
    appDirectory = (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/" + app
  }

  public var auditLog: String { appDirectory + "/audit.log" }
  public var releasesDirectory: String { appDirectory + "/releases/" + environment }
  public var currentReleaseFile: String { releasesDirectory + "/current" }
  public var secretsDirectory: String { appDirectory + "/secrets/" + environment }
  public var locksDirectory: String { appDirectory + "/locks" }
  public var lockDirectory: String { locksDirectory + "/" + environment + ".lock" }
  public var lockHolderFile: String { lockDirectory + "/holder.json" }
  /// `<expiry> <ttl>` in seconds by the host's clock (HostLock).
  public var lockLeaseFile: String { lockDirectory + "/lease" }

  public func releaseRecord(_ release: String) throws(DockerError) -> String {
    try NameRules.checkName(release, kind: "release id")
    return releasesDirectory + "/" + release + ".json"
  }

  /// Where the engine uploads the release's env file (mode 0600) before `docker run --env-file`.
  public func envFile(_ release: String) throws(DockerError) -> String {
    try NameRules.checkName(release, kind: "release id")
    return secretsDirectory + "/" + release + ".env"
  }
}
