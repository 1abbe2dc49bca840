import DeployConfig
import DeployTransport

/// Shell text for container changes that take more than one docker command. Every value is
/// quoted; nothing here removes a volume.
public enum DockerScripts {
  /// `docker stop` then `docker rm`, if the container exists. Never `rm -v`. Two docker commands
  /// when it exists (the usual case): whether it exists is only asked when the stop fails, and
  /// then the stop is repeated so that its own error is the one reported.
  public static func stopAndRemove(_ name: String, timeout: Int?) -> String {
    let stop = DockerCommand.stop(name, timeoutSeconds: timeout).line
    let remove = DockerCommand.remove(name).line + " >/dev/null"
    let exists = DockerCommand.inspectContainer(name).line + " >/dev/null 2>&1"
    return
      "if \(stop) >/dev/null 2>&1; then \(remove); elif \(exists); then \(stop) >/dev/null && \(remove); fi"
  }

  /// Where a container deployctl did not start is kept when deployctl first replaces it.
  public static func parkedName(_ name: String) -> String { name + "-before-deployctl" }

  /// The name `order: start-first` starts a new container under, until the old one is gone.
  public static func nextName(_ name: String) -> String { name + "-deployctl-next" }

  /// Stops `name` and renames it out of the way (`parkedName`); refuses if that name is taken.
  public static func park(_ name: String, timeout: Int?) -> String {
    let parked = parkedName(name)
    let taken = DockerCommand.inspectContainer(parked).line + " >/dev/null 2>&1"
    return
      "if \(taken); then echo \(ShellQuote.quote("a container named \(parked) exists already: remove or rename it"))"
      + " >&2; exit 1; fi\n\(DockerCommand.stop(name, timeoutSeconds: timeout).line) >/dev/null"
      + " && \(DockerCommand.rename(name, to: parked).line)"
  }

  /// Brings back a container `park` kept, if there is one.
  public static func unpark(_ name: String) -> String {
    let parked = parkedName(name)
    return "if \(DockerCommand.inspectContainer(parked).line) >/dev/null 2>&1; then "
      + "\(DockerCommand.rename(parked, to: name).line) && \(DockerCommand.start(name).line) >/dev/null; fi"
  }

  /// `docker pull REF` (by digest once resolved), quietly. With `login`, through a Docker client config of its own: a 0700
  /// folder made under `folder` for this pull, logged in with the password on `docker login`'s
  /// stdin (a here-document: the script itself reaches the host on the SSH channel's stdin, never
  /// on a command line), and removed when the pull ends, also when it fails or is interrupted. No
  /// `~/.docker/config.json` on the host ever holds the credential.
  public static func pull(_ image: ImageReference, login: RegistryLogin?, folder: String) -> String {
    authenticated(Array(DockerCommand.pull(image).argv!.dropFirst()), login: login, folder: folder)
  }

  /// `docker ARGUMENTS >/dev/null`, logged in to the plan's registry (as `pull` describes) when
  /// there is a login: a pull, or a `service create/update --with-registry-auth`.
  public static func authenticated(_ arguments: [String], login: RegistryLogin?, folder: String) -> String {
    guard let login else { return RemoteCommand(["docker"] + arguments).line + " >/dev/null" }
    var delimiter = "DEPLOYCTL_PASSWORD"
    while login.password == delimiter { delimiter += "_" }
    let config = "\"$deployctl_config\""
    let docker = "docker --config \(config)"
    return """
      (
        deployctl_config=$(umask 077 && mktemp -d \(ShellQuote.quote(folder + "/.docker-config.XXXXXX"))) || exit 1
        trap 'rm -rf "$deployctl_config"' EXIT
        trap 'exit 129' HUP INT TERM
        \(docker) login --username \(ShellQuote.quote(login.username)) --password-stdin \(ShellQuote.quote(login.server)) >"$deployctl_config/login.log" 2>&1 <<'\(delimiter)' || { cat "$deployctl_config/login.log" >&2; exit 1; }
      \(login.password)
      \(delimiter)
        \(docker) \(ShellQuote.join(arguments)) >/dev/null
      )
      """
  }
}
