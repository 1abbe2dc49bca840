import DeployConfig
import Foundation

/// `deployctl exec`: one command on every host of an environment, each host's output and exit
/// status. The words are sent as the user typed them after `--`: each one quoted, so the
/// remote shell sees exactly those words (`deployctl exec prod -- sh -c 'echo $HOSTNAME'`
/// lets the remote shell expand, because the user asked for a shell). With `shell`, the one
/// argument is itself a command line for the host's shell, as `ssh host 'CMD'` sends it.
public struct AdHocCommand: Sendable {
  public var arguments: [String]
  /// Per host; nil waits as long as the command runs.
  public var timeout: Duration?
  /// `exec --shell`: `arguments` is one command line, sent as it is.
  public var shell: Bool

  public init(arguments: [String], timeout: Duration? = nil, shell: Bool = false) {
    self.arguments = arguments
    self.timeout = timeout
    self.shell = shell
  }

  /// The command line sent to each host's shell.
  public var commandLine: String { remoteCommand.line }

  /// The words, each quoted; with `shell`, the user's own command line as it is (`exec --shell`
  /// asks the host's shell to read it).
  var remoteCommand: RemoteCommand {
    shell ? .userCommandLine(arguments.joined(separator: " ")) : RemoteCommand(arguments)
  }

  /// Runs on every target, `parallel` at a time; `onLine` gets each output line as it arrives
  /// with its host's name. A host that fails never stops the others.
  public func run(
    on targets: [SSHTarget], parallel: Int, connections: SSHConnections = SSHConnections(),
    onLine: @escaping @Sendable (String, OutputLine) -> Void = { _, _ in }
  ) async -> [HostOutcome<ExecResult>] {
    let command = remoteCommand
    let timeout = timeout
    let outcomes = await FanOut.run(targets, parallel: parallel, name: \.name) { target in
      try await SSHTransport(target: target, connections: connections).exec(command, timeout: timeout) {
        line in onLine(target.name, line)
      }
    }
    await connections.closeAll()
    return outcomes
  }
}
