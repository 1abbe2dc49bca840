import ArgumentParser
import DeployConfig
import DeployKit
import Foundation

extension DeployCtl {
  struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run a command on every host of an environment; per-host output and exit status.",
      discussion: """
        Each word after `--` reaches the host's shell as one word, quoted: metacharacters stay \
        literal. With --shell the one argument after `--` is a command line for the host's shell \
        (pipes, `&&`, variables), as `ssh host 'CMD'` sends it. Output lines \
        are prefixed with the host's name: the command's stdout on stdout, its stderr on stderr. \
        Exit status 0 when the command exited 0 on every host, 1 otherwise, 2 for bad arguments \
        or files.

        Examples:
          deployctl exec staging -- uptime
          deployctl exec prod --limit web1,web2 -- docker ps
          deployctl exec prod --shell -- 'docker ps | grep web'
          deployctl exec prod -- sh -c 'df -h / | tail -1'
          deployctl exec dev --output json -- cat /etc/os-release
        """)

    @Argument(help: "The environment (inventories/<env>.yml).", completion: .environments)
    var environment: String

    @OptionGroup var common: CommonOptions

    @Option(
      help: ArgumentHelp(
        "Per host: give up on the command after this long (30s, 5m).", valueName: "duration"),
      transform: Duration.argument)
    var timeout: Duration?

    @Flag(
      help:
        "The one argument after `--` is a command line for the host's shell (pipes, `&&`, `$VAR`), as with `ssh host 'CMD'`."
    )
    var shell = false

    @Option(
      help: ArgumentHelp(
        "Only the hosts that run this role of the app (a plan with roles:; its container is <name>-<role>).",
        valueName: "role"))
    var role: String?

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after `--`.")
    var command: [String] = []

    func validate() throws {
      if let timeout, timeout <= .zero { throw ValidationError("--timeout must be more than 0") }
      if command.isEmpty {
        throw ValidationError("give the command after `--`, e.g. deployctl exec \(environment) -- uptime")
      }
      if shell && command.count > 1 {
        throw ValidationError(
          "--shell takes one command line after `--`, quoted as for ssh, e.g. deployctl exec \(environment) --shell -- 'docker ps | grep web'; got \(command.count) arguments"
        )
      }
    }

    func run() async throws {
      throw await ExecCommand(
        environment: environment, arguments: command, shell: shell, timeout: timeout,
        selection: common.selection, role: role
      ).run(on: common.console)
    }
  }
}
