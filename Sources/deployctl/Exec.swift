import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Exec: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Run a command on every host of an environment; per-host output and exit status.",
      discussion: """
        Each word after `--` reaches the host's shell as one word, quoted, as with ssh. Output lines \
        are prefixed with the host's name: the command's stdout on stdout, its stderr on stderr. \
        Exit status 0 when the command exited 0 on every host, 1 otherwise, 2 for bad arguments \
        or files.

        Examples:
          deployctl exec staging -- uptime
          deployctl exec prod --limit web1,web2 -- docker ps
          deployctl exec prod -- sh -c 'df -h / | tail -1'
          deployctl exec dev --output json -- cat /etc/os-release
        """)

    @Argument(help: "The environment (inventories/<env>.yml).")
    var environment: String

    @OptionGroup var common: CommonOptions

    @Option(
      help: ArgumentHelp("Per host: give up on the command after this long (30s, 5m).", valueName: "duration")
    )
    var timeout: String?

    @Argument(parsing: .postTerminator, help: "The command and its arguments, after `--`.")
    var command: [String] = []

    /// Bad arguments, refused before anything runs (exit 2, as SPEC.md says).
    private func argumentProblem() -> String? {
      if command.isEmpty {
        return "give the command after `--`, e.g. deployctl exec \(environment) -- uptime"
      }
      if let parallel = common.parallel, parallel < 1 {
        return "--parallel must be at least 1, got \(parallel)"
      }
      if let timeout, ExecTimeout.parse(timeout) == nil {
        return "--timeout \(timeout): expected a duration such as 30s, 5m or 500ms"
      }
      return nil
    }

    func run() async throws {
      let terminal = Terminal.standardError()
      if let problem = argumentProblem() {
        terminal.error(problem)
        throw ExitCode(ExitStatus.refused.rawValue)
      }
      let targets: [SSHTarget]
      do {
        targets = try ExecInventory.targets(
          environment: environment, inventoriesDirectory: common.inventoriesDirectory,
          limit: common.limitedHosts)
      } catch {
        terminal.error(String(describing: error))
        throw ExitCode(ExitStatus.refused.rawValue)
      }

      let adHoc = AdHocCommand(arguments: command, timeout: timeout.flatMap(ExecTimeout.parse))
      let output = ExecOutput(terminal: terminal, stdoutIsReport: common.output == .json)
      let clock = ContinuousClock()
      let start = clock.now
      let run = Task {
        await adHoc.run(on: targets, parallel: common.parallel ?? min(targets.count, 100)) { host, line in
          output.line(host, line)
        }
      }
      let interrupt = InterruptHandler { run.cancel() }
      let outcomes = await run.value
      interrupt.stop()

      let report = AdHocReport(
        environment: environment, remoteCommand: adHoc.commandLine, outcomes: outcomes,
        duration: clock.now - start)
      if common.output == .json {
        print(report.jsonString())
      }
      output.summary(report)
      throw ExitCode(report.exitCode)
    }
  }
}

/// `30s`, `5m`, `1h`, `500ms`, or plain seconds.
enum ExecTimeout {
  static func parse(_ text: String) -> Duration? {
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    for (suffix, seconds) in units where text.hasSuffix(suffix) {
      guard let value = Double(text.dropLast(suffix.count)), value > 0 else { return nil }
      return .milliseconds(Int64(value * seconds * 1000))
    }
    guard let value = Double(text), value > 0 else { return nil }
    return .milliseconds(Int64(value * 1000))
  }
}

/// Prints each host's lines as they arrive (stdout to stdout, stderr to stderr, prefixed with
/// the host), and the summary at the end. With `--output json` stdout holds only the report,
/// so every line goes to stderr.
final class ExecOutput: Sendable {
  let terminal: Terminal
  let stdoutIsReport: Bool
  private let lock = NSLock()

  init(terminal: Terminal, stdoutIsReport: Bool) {
    self.terminal = terminal
    self.stdoutIsReport = stdoutIsReport
  }

  func line(_ host: String, _ line: OutputLine) {
    let text = Data("\(host): \(line.text)\n".utf8)
    lock.withLock {
      if line.stream == .stdout && !stdoutIsReport {
        FileHandle.standardOutput.write(text)
      } else {
        FileHandle.standardError.write(text)
      }
    }
  }

  func summary(_ report: AdHocReport) {
    let rows = report.hosts.map { host in
      [
        host.name, host.result, host.exitStatus.map(String.init) ?? "-",
        Progress.format(.milliseconds(host.durationMs)), host.error.map { firstLine($0) } ?? "",
      ]
    }
    let header = ["HOST", "RESULT", "EXIT", "TIME", "ERROR"]
    var widths = header.map(\.count)
    for row in rows {
      for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
    }
    func render(_ row: [String]) -> String {
      row.enumerated().map { i, cell in
        i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
      }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }
    lock.withLock {
      terminal.line("")
      terminal.line(terminal.paint(render(header), .bold))
      for (row, host) in zip(rows, report.hosts) {
        terminal.line(host.result == "ok" ? render(row) : terminal.paint(render(row), .red))
      }
      let ok = report.hosts.filter { $0.result == "ok" }.count
      let line = "exec \(report.environment): \(ok) of \(report.hosts.count) hosts exited 0"
      terminal.line(terminal.paint(line, ok == report.hosts.count ? .green : .red))
      if terminal.githubActions {
        for host in report.hosts where host.result != "ok" {
          terminal.line(
            GitHubActions.annotation(
              .error, host.error ?? "\(host.name): exit status \(host.exitStatus ?? -1)"))
        }
      }
    }
  }

  private func firstLine(_ text: String) -> String {
    String(text.split(separator: "\n").first ?? "")
  }
}

/// SIGINT and SIGTERM cancel the run: sessions close and every host not done reports
/// `interrupted`.
final class InterruptHandler: @unchecked Sendable {
  private var sources: [DispatchSourceSignal] = []

  init(_ action: @escaping @Sendable () -> Void) {
    for number in [SIGINT, SIGTERM] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler {
        FileHandle.standardError.write(Data("interrupted: closing the sessions\n".utf8))
        action()
      }
      source.resume()
      sources.append(source)
    }
  }

  func stop() {
    for source in sources { source.cancel() }
  }
}

/// Reads the hosts of `inventories/<env>.yml` (SPEC.md) into SSH targets: the keys `exec`
/// needs (`ssh:` defaults and each host's own), before the full inventory model is available.
enum ExecInventory {
  struct Failure: Error, CustomStringConvertible {
    var description: String
  }

  static func targets(environment: String, inventoriesDirectory: String, limit: [String]) throws
    -> [SSHTarget]
  {
    let path = (inventoriesDirectory as NSString).appendingPathComponent("\(environment).yml")
    guard FileManager.default.fileExists(atPath: path) else {
      throw Failure(
        description: "\(path): no such inventory; environments are the .yml files in \(inventoriesDirectory)")
    }
    let root = try YAML.load(path: path)
    guard let hostsNode = root["hosts"], let hosts = hostsNode.mapping, !hosts.isEmpty else {
      throw Failure(description: "\(root.location): `hosts` is missing or empty")
    }
    let defaults = root["ssh"]
    var targets: [SSHTarget] = []
    for pair in hosts {
      guard let name = pair.key.scalar?.text else { continue }
      let node = pair.value
      func value(_ key: String) -> YAMLNode? { node[key] ?? defaults?[key] }
      func text(_ key: String) -> String? { value(key)?.scalar?.text }
      guard let address = text("address") else {
        throw Failure(description: "\(pair.key.location): host `\(name)` has no `address`")
      }
      guard let user = text("user") else {
        throw Failure(description: "\(pair.key.location): host `\(name)` has no SSH `user`")
      }
      let port =
        try text("port").map { text in
          guard let port = Int(text), (1...65535).contains(port) else {
            throw Failure(description: "\(value("port")!.location): port `\(text)` is not 1-65535")
          }
          return port
        } ?? 22
      let policy =
        try text("host_key_policy").map { text in
          guard let policy = HostKeyPolicy(rawValue: text) else {
            throw Failure(
              description:
                "\(value("host_key_policy")!.location): host_key_policy `\(text)`: use strict or accept-new")
          }
          return policy
        } ?? .strict
      var target = SSHTarget(
        name: name, address: address, port: port, user: user,
        identity: text("identity_file").map { .file(expandHome($0)) } ?? .agent(),
        knownHostsFile: expandHome(text("known_hosts") ?? "~/.ssh/known_hosts"), hostKeyPolicy: policy,
        connectTimeout: text("connect_timeout").flatMap(ExecTimeout.parse) ?? .seconds(10))
      if let jump = text("jump") {
        guard let parsed = SSHJump.parse(jump, defaults: target) else {
          throw Failure(description: "\(value("jump")!.location): jump `\(jump)`: expected user@host:port")
        }
        target.jump = parsed
      }
      targets.append(target)
    }
    guard !limit.isEmpty else { return targets }
    let unknown = limit.filter { name in !targets.contains { $0.name == name } }
    if !unknown.isEmpty {
      throw Failure(
        description: "--limit: no host \(unknown.joined(separator: ", ")) in \(path); hosts: "
          + targets.map(\.name).joined(separator: ", "))
    }
    return targets.filter { limit.contains($0.name) }
  }

  static func expandHome(_ path: String) -> String {
    guard path == "~" || path.hasPrefix("~/") else { return path }
    return (ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()) + path.dropFirst()
  }
}
