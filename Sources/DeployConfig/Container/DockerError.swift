import Foundation

/// Problems with what we would send to Docker or with what Docker printed back.
public enum DockerError: DeployctlError, LocalizedError, Equatable {
  /// An image reference that Docker would reject or that we refuse (`--image`).
  case invalidReference(String, reason: String)
  case invalidDigest(String, reason: String)
  /// An app, environment, release id, container name or similar that cannot be used in a path
  /// or a Docker argument.
  case invalidName(kind: String, value: String, reason: String)
  /// Everything wrong with a container spec, collected.
  case invalidSpec([String])
  /// Docker (or a host-state snippet) printed something we cannot read.
  case unexpectedOutput(command: String, detail: String)

  public var exitStatus: ExitStatus {
    switch self {
    case .invalidReference, .invalidDigest, .invalidName, .invalidSpec:
      // Found while planning, before any host changes.
      return .refused
    case .unexpectedOutput:
      return .failedRestored
    }
  }

  public var description: String {
    switch self {
    case .invalidReference(let text, let reason):
      return
        "invalid image reference \"\(text)\": \(reason); use a tag (v2), repo:tag or repo@sha256:<64 hex digits>"
    case .invalidDigest(let text, let reason):
      return
        "invalid image digest \"\(text)\": \(reason); a digest is sha256: followed by 64 lowercase hex digits"
    case .invalidName(let kind, let value, let reason):
      return "invalid \(kind) \"\(value)\": \(reason)"
    case .invalidSpec(let problems):
      return "invalid container spec:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    case .unexpectedOutput(let command, let detail):
      return "could not read the output of `\(command)`: \(detail); check the Docker version on the host"
    }
  }

  public var errorDescription: String? { description }
}
