import DeployConfig

/// How deployctl talks to one host during a command: scripts on a shell kept open for the whole
/// command, single commands with their streams apart (`exec`, `logs`, the lock's renewal while a
/// long step runs), and port forwards. `SSHTransport` is the real one; tests give canned answers.
public protocol HostTransport: Sendable {
  var host: String { get }

  /// Runs `script` (at most `timeout`) and returns what each of its sections printed.
  func run(_ script: RemoteScript, timeout: Duration) async throws -> TransportRun

  /// Runs `command` on a channel of its own, stdout and stderr apart; a non-zero exit status is a
  /// result, not an error. `onLine` gets each line as it arrives.
  func exec(_ command: RemoteCommand, timeout: Duration?, onLine: (@Sendable (OutputLine) -> Void)?)
    async throws -> ExecResult

  /// Runs `command` for as long as it runs (until the calling task is cancelled), keeping no
  /// output: each line goes to `onLine`.
  func stream(_ command: RemoteCommand, onLine: @escaping @Sendable (OutputLine) -> Void) async throws
    -> ExecResult

  /// A local port that reaches `remoteHost:remotePort` as the host sees it.
  func forward(remotePort: Int, remoteHost: String) async throws -> PortForward

  /// Ends the shell, if one is open.
  func close() async
}

/// A script's answer, and what the transport did to get it.
public struct TransportRun: Sendable {
  public var output: RemoteScriptOutput
  /// The time a first connection took, when this run made it.
  public var connected: Duration?
  /// The shell or connection was lost and this run replaced it.
  public var reconnected: Bool

  public init(output: RemoteScriptOutput, connected: Duration? = nil, reconnected: Bool = false) {
    self.output = output
    self.connected = connected
    self.reconnected = reconnected
  }
}

/// A host's shell for a whole command (`RemoteShell`), started on first use and replaced once
/// when it is lost before or during a script: the script then runs again on the new one (every
/// script deployctl sends checks what exists before it acts, so it is safe to repeat).
public final class ShellSession: Sendable {
  public let host: String
  private let open: @Sendable () async throws -> (RemoteShell, connected: Duration?)
  private let shell = Locked<RemoteShell?>(nil)

  /// `open` starts a shell; `connected` is the time the connection took when it made one.
  public init(host: String, open: @escaping @Sendable () async throws -> (RemoteShell, connected: Duration?))
  {
    self.host = host
    self.open = open
  }

  private func live() async throws -> (RemoteShell, connected: Duration?, replaced: Bool) {
    if let current = shell.current, current.isOpen { return (current, nil, false) }
    let (fresh, connected) = try await open()
    let old = shell.withLock { current -> RemoteShell? in
      defer { current = fresh }
      return current
    }
    if let old { Task { await old.close() } }
    return (fresh, connected, old != nil)
  }

  public func run(_ script: RemoteScript, timeout: Duration) async throws -> TransportRun {
    var lastError: (any Error)?
    var connected: Duration?
    var reconnected = false
    for _ in 0..<2 {
      let (shell, made, replaced) = try await live()
      connected = connected ?? made
      reconnected = reconnected || replaced
      do {
        let step = try await shell.run(script.text, timeout: timeout)
        return TransportRun(
          output: RemoteScriptOutput(lines: step.lines, token: script.token), connected: connected,
          reconnected: reconnected)
      } catch let error as RemoteShellError {
        if case .timedOut = error { throw error }
        lastError = error
      } catch let error as SSHError {
        lastError = error
      }
    }
    throw lastError ?? RemoteShellError.closed(reason: "no shell")
  }

  public func close() async {
    let open = shell.withLock { current -> RemoteShell? in
      defer { current = nil }
      return current
    }
    await open?.close()
  }
}

/// `HostTransport` over SSH: the run's session for the host (`SSHConnections`: one per host,
/// replaced there when lost), one `sh -s` on it for scripts, exec channels and port forwards
/// beside it.
public final class SSHTransport: HostTransport {
  public var host: String { target.name }
  let target: SSHTarget
  let connections: SSHConnections
  private let shell: ShellSession

  public init(target: SSHTarget, connections: SSHConnections) {
    self.target = target
    self.connections = connections
    let connectedOnce = Locked(false)
    shell = ShellSession(host: target.name) {
      let session = try await connections.session(for: target)
      let first = connectedOnce.withLock { done in
        defer { done = true }
        return !done
      }
      return (RemoteShell(session: session), first ? session.connectDuration.current : nil)
    }
  }

  public func run(_ script: RemoteScript, timeout: Duration) async throws -> TransportRun {
    try await shell.run(script, timeout: timeout)
  }

  public func exec(
    _ command: RemoteCommand, timeout: Duration?, onLine: (@Sendable (OutputLine) -> Void)? = nil
  ) async throws -> ExecResult {
    try await connections.session(for: target).exec(command.line, timeout: timeout, onLine: onLine)
  }

  public func stream(_ command: RemoteCommand, onLine: @escaping @Sendable (OutputLine) -> Void) async throws
    -> ExecResult
  {
    try await connections.session(for: target).stream(command.line, onLine: onLine)
  }

  public func forward(remotePort: Int, remoteHost: String) async throws -> PortForward {
    try await connections.session(for: target).forward(remotePort: remotePort, remoteHost: remoteHost)
  }

  public func close() async { await shell.close() }
}
