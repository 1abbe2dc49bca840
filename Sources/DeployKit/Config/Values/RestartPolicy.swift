/// Docker's restart policy (`container.restart`).
public enum RestartPolicy: Sendable, Hashable, CustomStringConvertible {
  case no
  case always
  case unlessStopped
  /// `on-failure` or `on-failure:N` (retry at most N times).
  case onFailure(maxRetries: Int?)

  public init(parsing text: String) throws(ValueError) {
    switch text {
    case "no": self = .no
    case "always": self = .always
    case "unless-stopped": self = .unlessStopped
    case "on-failure": self = .onFailure(maxRetries: nil)
    default:
      if text.hasPrefix("on-failure:"), let n = Names.integer(text.dropFirst("on-failure:".count)), n >= 1 {
        self = .onFailure(maxRetries: n)
      } else {
        throw ValueError(
          "`\(text)` is not a restart policy: use `no`, `always`, `unless-stopped` or `on-failure[:N]`")
      }
    }
  }

  /// The value of `docker run --restart`.
  public var dockerValue: String {
    switch self {
    case .no: "no"
    case .always: "always"
    case .unlessStopped: "unless-stopped"
    case .onFailure(let n): n.map { "on-failure:\($0)" } ?? "on-failure"
    }
  }

  public var description: String { dockerValue }
}
