/// The health checks that need no port (`health.cmd`, `health.running`) and `release_command`
/// (docs/configuration.md "Health checks without HTTP", "Release command").
extension PlanDecoder {
  /// `cmd:` or `running:` when the health mapping has one; nil otherwise (or when it is wrong,
  /// which clears `ok`). Two kinds at once are refused: a check has one verdict.
  func containerProbe(_ m: NodeReader.Mapping, _ path: ConfigPath, docker: Bool?, ok: inout Bool)
    -> HealthSpec.Probe?
  {
    let given = ["http", "cmd", "running"].filter { m[$0] != nil } + (docker == true ? ["docker"] : [])
    guard m["cmd"] != nil || m["running"] != nil else { return nil }
    if given.count > 1, let second = m.keyNode(given[1]) {
      reader.error(
        second.location,
        "`\(path)` has \(given.map { "`\($0)`" }.joined(separator: " and ")); keep one kind of check")
      ok = false
      return nil
    }
    if let n = m["cmd"] {
      guard
        let argv = arguments(
          n, path.key("cmd"), "a command as a list of arguments, e.g. `[\"pg_isready\", \"-q\"]`",
          namingProgram: true)
      else {
        ok = false
        return nil
      }
      return .cmd(argv)
    }
    if let n = m["running"] {
      guard let up = reader.duration(n, path.key("running"), minimum: .milliseconds(1)) else {
        ok = false
        return nil
      }
      return .running(up)
    }
    return nil
  }

  /// nil with no error: no `release_command:`. `.failure` when it is wrong (reported).
  func releaseCommand(_ top: NodeReader.Mapping) -> Result<ReleaseCommandSpec?, Invalid> {
    guard let node = top["release_command"] else {
      if let timeout = top.keyNode("release_timeout") {
        reader.warning(timeout.location, "`release_timeout` without `release_command` has no effect")
      }
      return .success(nil)
    }
    let path = ConfigPath.root.key("release_command")
    guard
      let argv = arguments(
        node, path,
        "a command as a list of arguments (no shell), e.g. `[\"python\", \"manage.py\", \"migrate\"]`",
        namingProgram: true)
    else { return .failure(Invalid()) }
    var spec = ReleaseCommandSpec(command: argv)
    if let n = top["release_timeout"] {
      guard let timeout = reader.duration(n, ConfigPath.root.key("release_timeout"), minimum: .seconds(1))
      else { return .failure(Invalid()) }
      spec.timeout = timeout
    }
    return .success(spec)
  }
}

/// `release_command:` (and `release_timeout:`): a command run once per deploy in a throwaway
/// container of the new image, before any container changes (a database migration).
public struct ReleaseCommandSpec: Sendable, Hashable {
  /// The arguments after the image in `docker run` (no shell).
  public var command: [String]
  /// Default 10m; past it the container is removed and the deploy fails with nothing changed.
  public var timeout: Duration = .seconds(600)

  public init(command: [String], timeout: Duration = .seconds(600)) {
    self.command = command
    self.timeout = timeout
  }
}
