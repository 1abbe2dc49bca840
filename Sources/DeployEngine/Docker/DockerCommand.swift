import DeployConfig
import DeployTransport

/// The docker CLI invocations the engine runs on hosts over SSH. Pure functions: each returns a
/// `RemoteCommand` whose every value is quoted. Nothing here removes volumes (`docker rm` is
/// never given `-v`), so volume data survives every command.
public enum DockerCommand {
  /// `docker pull REF`: by digest once resolved (`repo@sha256:…`), so every host gets the same bytes.
  public static func pull(_ image: ImageReference) -> RemoteCommand {
    RemoteCommand(["docker", "pull", image.pinned ?? image.description])
  }

  /// Prints the image's `RepoDigests` as JSON; read with `DockerOutput.repoDigest`. Resolves a
  /// pulled tag to the digest its registry serves.
  public static func imageRepoDigests(_ image: ImageReference) -> RemoteCommand {
    RemoteCommand(["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", image.description])
  }

  /// Prints the local image id (`sha256:…`); fails if the image is not on the host.
  public static func imageID(_ image: String) -> RemoteCommand {
    RemoteCommand(["docker", "image", "inspect", "--format", "{{.Id}}", image])
  }

  /// `docker image rm REF…`: prunes images of releases no longer kept. Without `--force`,
  /// Docker refuses to remove an image a container (even a stopped one) still uses.
  public static func removeImages(_ images: [String]) -> RemoteCommand {
    RemoteCommand(["docker", "image", "rm"] + images)
  }

  /// The container's full state as one JSON object; read with `ContainerInfo.parse`, which also
  /// tells a missing container from a failure.
  public static func inspectContainer(_ name: String) -> RemoteCommand {
    RemoteCommand(["docker", "container", "inspect", "--format", "{{json .}}", name])
  }

  /// `docker stop --time N NAME`: SIGTERM, then SIGKILL after N seconds.
  public static func stop(_ name: String, timeoutSeconds: Int? = nil) -> RemoteCommand {
    var argv = ["docker", "stop"]
    if let timeoutSeconds { argv += ["--time", String(max(0, timeoutSeconds))] }
    return RemoteCommand(argv + [name])
  }

  public static func start(_ name: String) -> RemoteCommand {
    RemoteCommand(["docker", "start", name])
  }

  /// `docker rm NAME` (never `-v`: anonymous volumes stay too).
  public static func remove(_ name: String) -> RemoteCommand {
    RemoteCommand(["docker", "rm", name])
  }

  /// `docker rename FROM TO`.
  ///
  /// Used to keep a container deployctl did not start (`DockerScripts.park`); it is stopped first,
  /// so it holds no port binding, and `docker start` takes it again if it comes back.
  public static func rename(_ name: String, to newName: String) -> RemoteCommand {
    RemoteCommand(["docker", "rename", name, newName])
  }

  /// `docker logs --tail N NAME` (both streams; the SSH layer keeps stdout and stderr apart).
  public static func logs(_ name: String, tail: Int, timestamps: Bool = false) -> RemoteCommand {
    RemoteCommand(
      ["docker", "logs", "--tail", String(max(0, tail))] + (timestamps ? ["--timestamps"] : []) + [name])
  }

  /// `docker run --detach …` for `spec`, validated first. Secrets only ever come in through
  /// `--env-file`; `-e` carries the non-secret values.
  public static func run(_ spec: ContainerRunSpec) throws(DockerError) -> RemoteCommand {
    try spec.validate()
    return RemoteCommand(runArguments(spec))
  }

  static func runArguments(_ spec: ContainerRunSpec) -> [String] {
    var argv = ["docker", "run", "--detach", "--name", spec.name]
    for label in spec.labels { argv += ["--label", "\(label.key)=\(label.value)"] }
    switch spec.initProcess {
    case true?: argv.append("--init")
    case false?: argv.append("--init=false")
    case nil: break
    }
    argv += ["--restart", spec.restart.description]
    if let seconds = spec.stopTimeoutSeconds { argv += ["--stop-timeout", String(seconds)] }
    if let log = spec.log {
      argv += [
        "--log-driver", "json-file", "--log-opt", "max-size=\(log.maxSize)", "--log-opt",
        "max-file=\(log.maxFiles)",
      ]
    }
    for port in spec.ports { argv += ["--publish", port.argument] }
    for volume in spec.volumes { argv += ["--volume", volume.argument] }
    if let envFile = spec.envFile { argv += ["--env-file", envFile] }
    for variable in spec.env { argv += ["--env", "\(variable.name)=\(variable.value)"] }
    argv += spec.options.arguments
    argv.append(spec.image.pinned ?? spec.image.description)
    return argv + spec.options.commandPrefix + spec.command
  }

  /// The exit status of a check that stopped a script before it changed anything on the host.
  public static let unchangedExitStatus: Int32 = 90

  /// Stops the script (`unchangedExitStatus`) unless every network in `names` exists on the
  /// host, saying on stderr how to create the missing one. Run before the old container is
  /// stopped, so a missing network leaves the running release alone.
  public static func requireNetworks(_ names: [String]) -> RemoteCommand {
    .sequence(
      names.map { name in
        .if(
          RemoteCommand(["docker", "network", "inspect", name]).silent.negated,
          then: .fail(
            "docker network \(name) does not exist on this host; create it with: docker network create \(name)",
            status: unchangedExitStatus))
      })
  }
}
