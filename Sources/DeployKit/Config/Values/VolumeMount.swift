/// A volume: `/abs/host/path:/container/path[:ro|:rw]` or a named volume `data:/app/data`.
/// Anonymous volumes (`/app/data` alone) are refused: their data would be left behind each
/// time the container is replaced, and the SPEC promises volume data is kept.
public struct VolumeMount: Sendable, Hashable, CustomStringConvertible {
  public enum Source: Sendable, Hashable {
    /// An absolute path on the host.
    case hostPath(String)
    /// A Docker named volume.
    case named(String)
  }

  public var source: Source
  public var containerPath: String
  public var readOnly: Bool

  public init(source: Source, containerPath: String, readOnly: Bool = false) {
    self.source = source
    self.containerPath = containerPath
    self.readOnly = readOnly
  }

  public init(parsing text: String) throws(ValueError) {
    let example = "write `/srv/app/data:/app/data`, `/etc/app:/etc/app:ro` or `name:/app/data`"
    let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    var readOnly = false
    switch parts.count {
    case 1:
      throw ValueError(
        "`\(text)` is an anonymous volume, whose data would be lost when the container is replaced; \(example)"
      )
    case 2:
      break
    case 3:
      switch parts[2] {
      case "ro": readOnly = true
      case "rw": readOnly = false
      default: throw ValueError("`\(text)`: the mode after the second `:` must be `ro` or `rw`")
      }
    default:
      throw ValueError("`\(text)` is not a volume; \(example)")
    }
    let (from, to) = (parts[0], parts[1])
    guard to.hasPrefix("/") else {
      throw ValueError("`\(text)`: the container path `\(to)` must be absolute (start with `/`)")
    }
    if let problem = Names.shellProblem(to) {
      throw ValueError("`\(text)`: the container path \(problem); use letters, digits and `/._-`")
    }
    let source: Source
    if from.hasPrefix("/") {
      if let problem = Names.shellProblem(from) {
        throw ValueError("`\(text)`: the host path \(problem); use letters, digits and `/._-`")
      }
      source = .hostPath(from)
    } else if from.isEmpty || from.hasPrefix(".") || from.hasPrefix("~") || from.contains("/") {
      throw ValueError(
        "`\(text)`: the host path `\(from)` is relative; use an absolute path (`/srv/app/data`) or a volume name"
      )
    } else if Names.isVolumeName(from) {
      source = .named(from)
    } else {
      throw ValueError(
        "`\(text)`: `\(from)` is neither an absolute host path nor a volume name (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`)"
      )
    }
    self.init(source: source, containerPath: to, readOnly: readOnly)
  }

  /// The value of `docker run --volume`.
  public var dockerArgument: String {
    let from =
      switch source {
      case .hostPath(let path): path
      case .named(let name): name
      }
    return "\(from):\(containerPath)" + (readOnly ? ":ro" : "")
  }

  public var description: String { dockerArgument }
}
