import DeployTransport
import Foundation

/// One host during a command: its transport, where its state lives, and the scripts sent to it,
/// each a named step, timed and shown as progress. Rollouts (`DockerHost`, `SwarmHost`),
/// `status`, `history` and `promote`'s read all reach a host through one of these.
public final class RemoteHost: Sendable {
  public let name: String
  public let transport: any HostTransport
  let progress: ProgressLog
  private let timings: HostSteps

  public init(name: String, transport: any HostTransport, progress: ProgressLog) {
    self.name = name
    self.transport = transport
    self.progress = progress
    timings = HostSteps(host: name, progress: progress)
  }

  /// Time spent per step so far, in order (the first connection as `connect`).
  public var steps: [StepTiming] { timings.all }

  /// Runs `body` as a named step: progress on stderr when it starts and ends, its time kept.
  public func step<T: Sendable>(
    _ step: String, quiet: Bool = false, _ body: () async throws -> T
  ) async throws -> T {
    try await timings.run(step, quiet: quiet, body)
  }

  /// Runs `script` as step `step`. A section whose failure fails the step (`RemoteScript.Failure`)
  /// is the step's error, named `step (section)`.
  public func run(
    _ step: String, _ script: RemoteScript, timeout: Duration = .seconds(120), quiet: Bool = false
  ) async throws -> RemoteScriptOutput {
    try await self.step(step, quiet: quiet) {
      let output = try await send(script, step: step, timeout: timeout)
      if let failure = output.failure(of: script) {
        throw RolloutError.stepFailed(
          host: name, step: failure.name.isEmpty ? step : "\(step) (\(failure.name))",
          exitStatus: failure.status, output: failure.output)
      }
      return output
    }
  }

  /// Runs each named command as a section whose failure is part of the answer (a read), as a
  /// quiet step; their outputs by name.
  public func observe(_ commands: [(String, RemoteCommand)], step: String, timeout: Duration = .seconds(60))
    async throws -> [String: RemoteScriptOutput.Section]
  {
    var script = RemoteScript()
    let sections = commands.map { script.section($0.0, $0.1, failure: .isAnswer) }
    let output = try await run(step, script, timeout: timeout, quiet: true)
    var result: [String: RemoteScriptOutput.Section] = [:]
    for section in sections { result[section.name] = output[section] }
    return result
  }

  /// Sends `script` and reads its sections, recording the first connection as step `connect`.
  private func send(_ script: RemoteScript, step: String, timeout: Duration) async throws
    -> RemoteScriptOutput
  {
    let answer: TransportRun
    do {
      answer = try await transport.run(script, timeout: timeout)
    } catch RemoteShellError.timedOut(let after) {
      throw RolloutError.stepFailed(
        host: name, step: step, exitStatus: -1, output: "\(RemoteShellError.timedOut(after: after))")
    }
    if let connected = answer.connected { timings.record("connect", connected) }
    if answer.reconnected {
      await progress.host(name, "reconnect", .note("the connection was lost; continuing on a new one"))
    }
    return answer.output
  }

  /// Runs one command on a channel of its own (beside the shell), its streams apart.
  public func exec(_ command: RemoteCommand, timeout: Duration? = .seconds(60)) async throws -> ExecResult {
    try await transport.exec(command, timeout: timeout, onLine: nil)
  }

  public func forward(remotePort: Int, remoteHost: String) async throws -> PortForward {
    try await transport.forward(remotePort: remotePort, remoteHost: remoteHost)
  }

  public func close() async { await transport.close() }

  /// Runs `body` with a `RemoteHost` on `transport`, then closes its shell (also when `body`
  /// throws).
  public static func with<T: Sendable>(
    _ name: String, _ transport: any HostTransport, progress: ProgressLog,
    _ body: (RemoteHost) async throws -> T
  ) async throws -> T {
    let remote = RemoteHost(name: name, transport: transport, progress: progress)
    do {
      let value = try await body(remote)
      await remote.close()
      return value
    } catch {
      await remote.close()
      throw error
    }
  }

  /// Whether `error` says the host could not be reached or the connection broke (as opposed to
  /// a command that ran and failed).
  public static func isUnreachable(_ error: any Error) -> Bool {
    error is SSHError || error is RemoteShellError
  }
}
