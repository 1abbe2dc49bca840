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
      else: DockerCommand.stop(name, timeoutSeconds: timeout).quiet.and(DockerCommand.rename(name, to: parked)))
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
  public static func authenticated(_ arguments: [String], login: RegistryLogin?, folder: String) -> RemoteCommand {
    guard let login else { return RemoteCommand(["docker"] + arguments).quiet }
    let config = "\"$deployctl_config\""
    let template = ShellQuote.quote(folder + "/.docker-config.XXXXXX")
    let loginCommand = RemoteCommand(
      head: "docker --config \(config) "
        + ShellQuote.join(["login", "--username", login.username, "--password-stdin", login.server])
        + " >\"$deployctl_config/login.log\" 2>&1", shape: .command)
    let showLog = RemoteCommand(head: "cat \"$deployctl_config/login.log\" >&2", shape: .command)
    let run = RemoteCommand(
      head: "docker --config \(config) " + ShellQuote.join(arguments), shape: .command)
    // The one place a shell variable carries a value between commands: the folder's name, which
    // only `mktemp` knows.
    let setUp = RemoteCommand(
      head: "deployctl_config=$(umask 077 && mktemp -d \(template)) || exit 1; "
        + "trap 'rm -rf \"$deployctl_config\"' EXIT; trap 'exit 129' HUP INT TERM", shape: .list)
    return setUp.then(loginCommand.input(login.password).or(showLog.then(.exit(1)))).then(run.quiet).subshell
  }
}
