import DeployConfig
import DeployEngine
import DeployTransport
import Foundation

/// `deployctl exec ENV [--shell] -- COMMAND...`: the command on every (`--limit`) host, each
/// host's output as it arrives, prefixed with its name, and a per-host summary.
public struct ExecCommand: Sendable {
  public var environment: String
  public var arguments: [String]
  /// The one argument is a command line for the host's shell.
  public var shell: Bool
  /// `--timeout`: per host, give up on the command after this long.
  public var timeout: Duration?
  public var selection: ProjectSelection
  /// `--role`: only the hosts that run this role of the app (a plan with `roles:`).
  public var role: String?

  public init(
    environment: String, arguments: [String], shell: Bool = false, timeout: Duration? = nil,
    selection: ProjectSelection, role: String? = nil
  ) {
    self.role = role
    self.environment = environment
    self.arguments = arguments
    self.shell = shell
    self.timeout = timeout
    self.selection = selection
  }

  /// What `prepare` found: where to run what, and the secret values to mask in the output.
  public struct Prepared: Sendable {
    public var targets: [SSHTarget]
    public var command: AdHocCommand
    public var masker: SecretMasker
  }

  /// Reads the files; throws before any host is touched (exit 2). The arguments were checked
  /// where they were parsed (`deployctl exec`'s `validate()`).
  public func prepare() throws -> Prepared {
    try selection.check()
    let project = try selection.loadProject()
    let inventory = try project.inventory(named: environment)
    var targets = try selection.hosts(of: inventory).map(\.sshTarget)
    if let role {
      let plan = try selection.environmentPlan(environment)
      let names = try RoleSelection.hosts(running: role, in: plan)
      targets = targets.filter { names.contains($0.name) }
    }
    // A command can print what a container was given (`docker exec web env`): the values
    // of every plan's secrets that deployctl's environment holds are masked.
    // A playbook that does not resolve for this environment would leave its secrets unmasked:
    // refused, with its problems, as `deploy` would refuse it.
    var plans: [EnvironmentPlan] = []
    for playbook in project.playbooks {
      do {
        plans.append(try playbook.resolved(for: inventory))
      } catch {
        throw RolloutError.refused(
          "cannot tell which secrets to mask in the output: the playbook of \(playbook.app) does not resolve for \(environment):\n\(error)"
        )
      }
    }
    let masker = SecretMasker(secrets: plans.flatMap { selection.secrets(for: $0).values })
    return Prepared(
      targets: targets, command: AdHocCommand(arguments: arguments, timeout: timeout, shell: shell),
      masker: masker)
  }

  /// Runs the prepared command; SIGINT or SIGTERM closes the sessions and reports every host
  /// not done as interrupted.
  public func run(_ prepared: Prepared, console: CommandConsole) async -> AdHocReport {
    let output = ExecOutput(console: console, masker: prepared.masker)
    let clock = ContinuousClock()
    let start = clock.now
    let parallel = selection.parallel ?? min(prepared.targets.count, 100)
    let run = Task {
      await prepared.command.run(on: prepared.targets, parallel: parallel) { host, line in
        output.line(host, line)
      }
    }
    // SIGINT and SIGTERM cancel the run: sessions close and every host not done reports
    // `interrupted`.
    let signals = Signals { _ in
      FileHandle.standardError.write(Data("interrupted: closing the sessions\n".utf8))
      run.cancel()
    }
    let outcomes = await run.value
    signals.cancel()
    return AdHocReport(
      environment: environment, remoteCommand: prepared.command.commandLine, outcomes: outcomes,
      duration: clock.now - start)
  }
}

/// Prints each host's lines as they arrive (stdout to stdout, stderr to stderr, prefixed with
/// the host). With `--output json` stdout holds only the report, so every line goes to stderr.
final class ExecOutput: Sendable {
  let stdoutIsReport: Bool
  let masker: SecretMasker
  private let lock = NSLock()

  init(console: CommandConsole, masker: SecretMasker) {
    self.stdoutIsReport = console.format == .json
    self.masker = masker
  }

  func line(_ host: String, _ line: OutputLine) {
    let text = Data("\(host): \(masker.mask(line.text))\n".utf8)
    lock.withLock {
      if line.stream == .stdout && !stdoutIsReport {
        FileHandle.standardOutput.write(text)
      } else {
        FileHandle.standardError.write(text)
      }
    }
  }
}

extension AdHocReport: CommandOutcome {
  /// Per host: result, exit status, time and error; then how many hosts exited 0 (stderr).
  public func printSummary(on console: CommandConsole, masker: SecretMasker) {
    let terminal = console.terminal
    let rows = hosts.map { host in
      [
        host.name, host.result, host.exitStatus.map(String.init) ?? "-",
        ProgressLog.format(.milliseconds(host.durationMs)),
        host.error?.firstLine ?? "",
      ]
    }
    let lines = TextTable.lines(["HOST", "RESULT", "EXIT", "TIME", "ERROR"], rows).map(masker.mask)
    terminal.line("")
    terminal.line(terminal.paint(lines[0], .bold))
    for (line, host) in zip(lines.dropFirst(), hosts) {
      terminal.line(host.result == "ok" ? line : terminal.paint(line, .red))
    }
    let ok = hosts.filter { $0.result == "ok" }.count
    let line = "exec \(environment): \(ok) of \(hosts.count) hosts exited 0"
    terminal.line(terminal.paint(line, ok == hosts.count ? .green : .red))
    if terminal.githubActions {
      for host in hosts where host.result != "ok" {
        terminal.line(
          GitHubActions.annotation(
            .error, masker.mask(host.error ?? "\(host.name): exit status \(host.exitStatus ?? -1)")))
      }
    }
  }
}

extension ExecCommand {
  public func run(on console: CommandConsole) async -> CommandExit {
    let prepared: Prepared
    do {
      prepared = try prepare()
    } catch {
      return console.fail(error, command: "exec", environment: environment, app: selection.app)
    }
    let report = await run(prepared, console: console)
    return console.finish(report, masker: prepared.masker)
  }
}
