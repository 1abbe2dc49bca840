/// Volumes as plans write them: `/abs/host/path:/container/path[:ro|:rw]` or a named volume
/// `data:/app/data`. Anonymous volumes (`/app/data` alone) are refused: their data would be left
/// behind each time the container is replaced, and volume data must outlive every deploy.
extension VolumeMount {
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
    if from.hasPrefix("/") {
      if let problem = Names.shellProblem(from) {
        throw ValueError("`\(text)`: the host path \(problem); use letters, digits and `/._-`")
      }
    } else if from.isEmpty || from.hasPrefix(".") || from.hasPrefix("~") || from.contains("/") {
      throw ValueError(
        "`\(text)`: the host path `\(from)` is relative; use an absolute path (`/srv/app/data`) or a volume name"
      )
    } else if !Names.isVolumeName(from) {
      throw ValueError(
        "`\(text)`: `\(from)` is neither an absolute host path nor a volume name (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`)"
      )
    }
    self.init(source: from, target: to, readOnly: readOnly)
  }
}

extension RestartPolicy {
  /// `no`, `always`, `unless-stopped`, `on-failure` or `on-failure:N`.
  public init(parsing text: String) throws(ValueError) {
    guard let policy = RestartPolicy(text) else {
      throw ValueError(
        "`\(text)` is not a restart policy: use `no`, `always`, `unless-stopped` or `on-failure[:N]`")
    }
    self = policy
  }
}
