/// What a plan may not ask of Docker Swarm (`engine: swarm`), known to validation; how a release
/// becomes a service is the engine's part of `SwarmService`.
public enum SwarmService {
  // MARK: what Swarm cannot do

  /// One thing a plan asks that Swarm cannot do (an error) or that the user must see to (a
  /// warning), with the plan path it is about.
  public struct Problem: Sendable, Equatable {
    public var path: String
    public var message: String
    public var isError: Bool
  }

  /// What `validate` says about `plan` with `engine: swarm`.
  public static func problems(_ plan: ResolvedPlan) -> [Problem] {
    var problems: [Problem] = []
    let options = plan.container.options
    if options.gpus != nil {
      problems.append(
        Problem(
          path: "container.gpus",
          message:
            "`gpus` is a `docker run` option Swarm services do not have; use `engine: hosts` for GPU workloads",
          isError: true))
    }
    if !options.dockerArgs.isEmpty {
      problems.append(
        Problem(
          path: "container.docker_args",
          message:
            "`docker_args` are `docker run` flags; with `engine: swarm` there is no `docker run`: remove them or use the options deployctl maps",
          isError: true))
    }
    if !options.networkAliases.isEmpty && options.network == nil {
      problems.append(
        Problem(
          path: "container.network_aliases",
          message: "`network_aliases` need `network:` with `engine: swarm` (aliases belong to a network)",
          isError: true))
    }
    for (i, port) in plan.container.ports.enumerated() where port.hostIP != nil {
      problems.append(
        Problem(
          path: "container.ports[\(i)]",
          message:
            "a Swarm service publishes on every address of its node; drop the bind address `\(port.hostIP ?? "")`",
          isError: true))
    }
    for (i, volume) in plan.container.volumes.enumerated() where volume.isBindMount {
      problems.append(
        Problem(
          path: "container.volumes[\(i)]",
          message:
            "with `engine: swarm`, the bind mount source \(volume.source) must exist on every node that can run a task (Swarm does not create it; a task on a node without it fails)",
          isError: false))
    }
    if let health = plan.health, case .http(let http) = health.probe,
      !plan.container.ports.contains(where: { $0.hostPort == http.port })
    {
      problems.append(
        Problem(
          path: "health.http.port",
          message:
            "with `engine: swarm` the health check reaches each task at its node's published port; \(http.port) is not published under `container.ports`",
          isError: true))
    }
    switch plan.health?.probe {
    case .cmd?, .running?:
      problems.append(
        Problem(
          path: "health",
          message:
            "with `engine: swarm` the health check is `http:` or `docker: true`; `cmd:` and `running:` need `engine: hosts`",
          isError: true))
    default: break
    }
    if plan.releaseCommand != nil {
      problems.append(
        Problem(
          path: "release_command",
          message:
            "`release_command` runs in a container on a host; with `engine: swarm` run it as a step of its own (a one-off service) for now",
          isError: true))
    }
    return problems
  }
}
