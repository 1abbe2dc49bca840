import DeployConfig
import Foundation

/// Facts about this run that land in records, the audit log and the lock.
public enum Invocation {
  /// Who runs deployctl: `DEPLOYCTL_USER`, else the CI actor, else the login name.
  public static func user(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
    let candidates = [
      // An empty variable counts as unset (not as the user "github:").
      environment["DEPLOYCTL_USER"],
      environment["GITHUB_ACTOR"].flatMap { $0.isEmpty ? nil : "github:\($0)" },
      environment["GITLAB_USER_LOGIN"].flatMap { $0.isEmpty ? nil : "gitlab:\($0)" }, environment["USER"],
      environment["LOGNAME"],
    ]
    for case let name? in candidates where !name.isEmpty { return name }
    if let pw = getpwuid(getuid()), let name = pw.pointee.pw_name { return String(cString: name) }
    return "uid \(getuid())"
  }
}

extension EnvironmentPlan {
  /// Only the hosts named by `--limit`; an unknown name is refused before anything runs.
  public func limited(to names: [String]) throws -> EnvironmentPlan {
    guard !names.isEmpty else { return self }
    let known = hosts.map(\.host.name)
    let unknown = names.filter { !known.contains($0) }
    guard unknown.isEmpty else {
      throw RolloutError.refused(
        "--limit: no host \(unknown.joined(separator: ", ")) in \(environment); hosts: \(known.joined(separator: ", "))"
      )
    }
    var copy = self
    copy.hosts = hosts.filter { names.contains($0.host.name) }
    return copy
  }
}
