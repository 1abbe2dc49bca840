import DeployConfig

/// The content of a `docker run --env-file` file, which is how secrets reach a container: the
/// engine writes it with mode 0600 from a script on the SSH channel's stdin (`HostState.writePrivate`),
/// so no value ever appears on a command line.
///
/// Docker reads the file line by line as `KEY=VALUE`, without quotes or escapes, so a value
/// cannot span lines: such a value is refused rather than silently cut.
public enum EnvFile {
  public static func render(_ variables: [EnvVar]) throws(DockerError) -> String {
    var problems: [String] = []
    var text = ""
    for variable in variables {
      do throws(DockerError) {
        try NameRules.checkEnvName(variable.name)
      } catch {
        problems.append(error.description)
        continue
      }
      if variable.value.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\0" }) {
        // Never echo the value: it is a secret.
        problems.append(
          "\(variable.name): the value contains a line break or NUL, which an env file cannot carry")
        continue
      }
      text += "\(variable.name)=\(variable.value)\n"
    }
    if !problems.isEmpty { throw .invalidSpec(problems) }
    return text
  }
}
