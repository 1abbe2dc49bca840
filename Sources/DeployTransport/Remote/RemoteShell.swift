import DeployConfig
import Foundation

/// One `sh -s` on a host, kept open for a whole command: every step is a script sent on its
/// stdin, so a host costs one SSH exec request (one login shell start, one channel) however many
/// steps it takes. Each step's output ends with a marker line carrying its exit status; the
/// step's stdout and stderr come back together, in order.
///
/// A step runs in a subshell, so `exit` ends the step, not the shell. When the channel is lost
/// every later step fails at once (`RemoteShellError.closed`); `ShellSession` then starts a new
/// shell.
public final class RemoteShell: Sendable {
  public let host: String
  private let input = ExecInput()
  private let state = Locked(State())
  private let marker: String
  private let runner: Task<Int32?, Never>

  private struct State {
    var lines: [String] = []
    var waiting: CheckedContinuation<RemoteStep, any Error>?
    var closed: (any Error)?
  }

  /// Starts `sh -s` through the user's login shell on `session`.
  public convenience init(session: SSHSession) {
    self.init(host: session.target.name) { input, onLine in
      let result = try await session.exec("exec /bin/sh -s", input: input) { line in onLine(line.text) }
      return result.exitStatus
    }
  }

  /// Starts a shell with `start`, which runs `sh -s` with `input` on its stdin, hands every line
  /// it prints to `onLine`, and returns its exit status once it ends (tests start a local
  /// `/bin/sh` this way).
  public init(
    host: String,
    start: @escaping @Sendable (ExecInput, @escaping @Sendable (String) -> Void) async throws -> Int32
  ) {
    self.host = host
    let marker = "::deployctl:: end " + RemoteScript.randomToken()
    self.marker = marker
    let state = state
    let input = input
    runner = Task {
      do {
        let status = try await start(input) { line in
          RemoteShell.receive(line, marker: marker, state: state)
        }
        RemoteShell.close(state, RemoteShellError.closed(reason: "the shell ended (status \(status))"))
        return status
      } catch {
        RemoteShell.close(state, error)
        return nil
      }
    }
  }

  private static func receive(_ text: String, marker: String, state: Locked<State>) {
    let finished = state.withLock { state -> (CheckedContinuation<RemoteStep, any Error>, RemoteStep)? in
      guard text.hasPrefix(marker) else {
        state.lines.append(text)
        return nil
      }
      let status = Int32(text.dropFirst(marker.count).trimmingCharacters(in: .whitespaces)) ?? 255
      let step = RemoteStep(status: status, lines: state.lines)
      state.lines = []
      guard let waiting = state.waiting else { return nil }
      state.waiting = nil
      return (waiting, step)
    }
    if let (continuation, step) = finished { continuation.resume(returning: step) }
  }

  private static func close(_ state: Locked<State>, _ error: any Error) {
    let waiting = state.withLock { state -> CheckedContinuation<RemoteStep, any Error>? in
      if state.closed == nil { state.closed = error }
      defer { state.waiting = nil }
      return state.waiting
    }
    waiting?.resume(throwing: error)
  }

  /// Whether steps can still be sent.
  public var isOpen: Bool { state.current.closed == nil }

  /// Runs `script` as the next step and waits for its end (at most `timeout`; after a timeout the
  /// shell is closed, since the step may still be running).
  public func run(_ script: String, timeout: Duration) async throws -> RemoteStep {
    let text = "(\n\(script)\n) 2>&1 </dev/null; printf '\\n%s %s\\n' '\(marker)' \"$?\"\n"
    let timer = Task {
      try await Task.sleep(for: timeout)
      RemoteShell.close(state, RemoteShellError.timedOut(after: timeout))
      input.finish()
    }
    defer { timer.cancel() }
    return try await withCheckedThrowingContinuation { continuation in
      let refused = state.withLock { state -> (any Error)? in
        if let closed = state.closed { return closed }
        state.waiting = continuation
        return nil
      }
      if let refused {
        continuation.resume(throwing: refused)
      } else {
        input.send(text)
      }
    }
  }

  /// Ends the shell (end of file on its stdin) and waits for it to exit.
  public func close() async {
    input.finish()
    _ = await runner.value
  }
}

/// What one step of a `RemoteShell` printed (stdout and stderr together) and its exit status.
public struct RemoteStep: Sendable, Equatable {
  public var status: Int32
  public var lines: [String]

  public init(status: Int32, lines: [String]) {
    self.status = status
    self.lines = lines
  }

  public var succeeded: Bool { status == 0 }
  public var output: String { lines.joined(separator: "\n") }
}

public enum RemoteShellError: Error, CustomStringConvertible {
  case closed(reason: String)
  case timedOut(after: Duration)

  public var description: String {
    switch self {
    case .closed(let reason): "the remote shell is gone: \(reason)"
    case .timedOut(let after): "the step did not end within \(after)"
    }
  }
}
