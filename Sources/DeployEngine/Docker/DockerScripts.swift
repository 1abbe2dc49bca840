import DeployConfig
import DeployTransport

/// Container changes that take more than one docker command, composed from `DockerCommand`s.
/// Nothing here removes a volume.
public enum DockerScripts {
  /// `docker stop` then `docker rm`, if the container exists. Never `rm -v`. Two docker commands
  /// when it exists (the usual case): whether it exists is only asked when the stop fails, and
  /// then the stop is repeated so that its own error is the one reported.
  public static func stopAndRemove(_ name: String, timeout: Int?) -> RemoteCommand {
    let stop = DockerCommand.stop(name, timeoutSeconds: timeout)
    let remove = DockerCommand.remove(name).quiet
    return .if(
      stop.silent, then: remove,
      else: .if(DockerCommand.inspectContainer(name).silent, then: stop.quiet.and(remove)))
  }

  /// Where a container deployctl did not start is kept when deployctl first replaces it.
  public static func parkedName(_ name: String) -> String { name + "-before-deployctl" }

  /// The name `order: start-first` starts a new container under, until the old one is gone.
  public static func nextName(_ name: String) -> String { name + "-deployctl-next" }

  /// Stops `name` and renames it out of the way (`parkedName`); refuses if that name is taken.
  public static func park(_ name: String, timeout: Int?) -> RemoteCommand {
    let parked = parkedName(name)
    return .if(
      DockerCommand.inspectContainer(parked).silent,
      then: .fail("a container named \(parked) exists already: remove or rename it"),
      else: DockerCommand.stop(name, timeoutSeconds: timeout).quiet.and(
        DockerCommand.rename(name, to: parked)))
  }

  /// Brings back a container `park` kept, if there is one.
  public static func unpark(_ name: String) -> RemoteCommand {
    let parked = parkedName(name)
    return .if(
      DockerCommand.inspectContainer(parked).silent,
      then: DockerCommand.rename(parked, to: name).and(DockerCommand.start(name).quiet))
  }

  /// `docker pull REF` (by digest once resolved), quietly, logged in as `authenticated` says.
  public static func pull(_ image: ImageReference, login: RegistryLogin?, folder: String) -> RemoteCommand {
    authenticated(["pull", image.pinned ?? image.description], login: login, folder: folder)
  }

  /// `docker ARGUMENTS >/dev/null`, logged in to the plan's registry when there is a login: a
  /// pull, or a `service create/update --with-registry-auth`. The login goes to a Docker client
  /// config of its own, a 0700 folder made under `folder` for this command and removed when it
  /// ends, also when it fails or is interrupted, so no `~/.docker/config.json` on the host ever
  /// holds the credential. The password reaches `docker login --password-stdin` as a
  /// here-document: inside the script on the SSH channel's stdin, never on a command line.
  public static func authenticated(_ arguments: [String], login: RegistryLogin?, folder: String)
    -> RemoteCommand
  {
    guard let login else { return RemoteCommand(["docker"] + arguments).quiet }
    let config = "deployctl_config"
    let docker: [ShellWord] = ["docker", "--config", .variable(config)]
    let log = ShellWord.variable(config, "/login.log")
    let setUp = RemoteCommand.assign(
      config,
      outputOf: RemoteCommand(["umask", "077"]).and(
        RemoteCommand(["mktemp", "-d", folder + "/.docker-config.XXXXXX"]))
    ).or(.exit(1))
    let logIn = RemoteCommand(
      words: docker + [
        "login", "--username", ShellWord(login.username), "--password-stdin", ShellWord(login.server),
      ]
    ).writing(to: log).mergingErrors.input(login.password)
    return RemoteCommand.sequence([
      setUp,
      RemoteCommand(["trap", "rm -rf \"$\(config)\"", "EXIT"]),
      RemoteCommand(["trap", "exit 129", "HUP", "INT", "TERM"]),
      logIn.or(RemoteCommand(words: ["cat", log]).toErrors.then(.exit(1))),
      RemoteCommand(words: docker + arguments.map { ShellWord($0) }).quiet,
    ]).subshell
  }
}
