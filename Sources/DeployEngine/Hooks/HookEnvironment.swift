import DeployConfig

/// What a hook is told about the run, as `DEPLOYCTL_*` variables (docs/configuration.md
/// "Hooks"). The engine fills it; `result`, `exitCode`, `error` and `reportPath` only
/// for post_deploy and on_failure.
public struct HookEnvironment: Sendable, Equatable {
  /// `deploy`, `promote` or `rollback`.
  public var command: String
  public var environment: String
  public var app: String
  /// The release id this run makes (or goes back to).
  public var release: String?
  /// `repo@sha256:…`.
  public var image: String?
  public var previousRelease: String?
  /// The targeted hosts, in inventory order.
  public var hosts: [String]
  /// Who runs deployctl.
  public var user: String
  /// `success`, `failed`, `needs_attention`, … (`CommandResult`), or `interrupted`.
  public var result: String?
  public var exitCode: Int32?
  public var error: String?
  /// The path of the command's JSON document.
  public var reportPath: String?

  public init(
    command: String, environment: String, app: String, release: String? = nil, image: String? = nil,
    previousRelease: String? = nil, hosts: [String] = [], user: String, result: String? = nil,
    exitCode: Int32? = nil, error: String? = nil, reportPath: String? = nil
  ) {
    self.command = command
    self.environment = environment
    self.app = app
    self.release = release
    self.image = image
    self.previousRelease = previousRelease
    self.hosts = hosts
    self.user = user
    self.result = result
    self.exitCode = exitCode
    self.error = error
    self.reportPath = reportPath
  }

  /// The variables `stage` gets (absent values as empty strings, so a hook can rely on every
  /// name being set). `DEPLOYCTL_ERROR` has secret values masked.
  public func variables(for stage: HooksSpec.Stage, masker: SecretMasker = SecretMasker()) -> [String: String]
  {
    var variables = [
      "DEPLOYCTL_COMMAND": command,
      "DEPLOYCTL_ENVIRONMENT": environment,
      "DEPLOYCTL_APP": app,
      "DEPLOYCTL_RELEASE": release ?? "",
      "DEPLOYCTL_IMAGE": image ?? "",
      "DEPLOYCTL_PREVIOUS_RELEASE": previousRelease ?? "",
      "DEPLOYCTL_HOSTS": hosts.joined(separator: ","),
      "DEPLOYCTL_USER": user,
    ]
    if stage != .preDeploy {
      variables["DEPLOYCTL_RESULT"] = result ?? ""
      variables["DEPLOYCTL_EXIT_CODE"] = exitCode.map { "\($0)" } ?? ""
      variables["DEPLOYCTL_ERROR"] = masker.mask(error ?? "")
      variables["DEPLOYCTL_REPORT"] = reportPath ?? ""
    }
    return variables
  }
}
