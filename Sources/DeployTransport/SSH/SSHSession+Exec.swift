import CLibSSH2
import DeployConfig
import Foundation

/// What a remote command printed and how it ended.
public struct ExecResult: Sendable, Equatable {
  /// The command's exit status; 128 + the signal's number if it was killed by a signal.
  public var exitStatus: Int32
  /// The signal that killed the command (`TERM`, `KILL`, …), if one did.
  public var exitSignal: String?
  public var stdout: String
  public var stderr: String

  public init(exitStatus: Int32, exitSignal: String? = nil, stdout: String, stderr: String) {
    self.exitStatus = exitStatus
    self.exitSignal = exitSignal
    self.stdout = stdout
    self.stderr = stderr
  }

  public var succeeded: Bool { exitStatus == 0 && exitSignal == nil }
}

/// One line of a command's output, as it arrives.
public struct OutputLine: Sendable, Equatable {
  public enum Stream: String, Sendable { case stdout, stderr }

  public var stream: Stream
  /// The line without its newline.
  public var text: String

  public init(stream: Stream, text: String) {
    self.stream = stream
    self.text = text
  }
}

/// Collects one output stream and hands out its complete lines.
private struct LineCollector {
  let stream: OutputLine.Stream
  let onLine: (@Sendable (OutputLine) -> Void)?
  /// false: complete lines are dropped once handed out (output that runs until stopped).
  var retain = true
  var bytes: [UInt8] = []
  var lineStart = 0

  mutating func append(_ chunk: UnsafeRawBufferPointer) {
    let scanFrom = bytes.count
    bytes.append(contentsOf: chunk)
    guard let onLine else { return }
    var index = scanFrom
    while let newline = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) {
      onLine(OutputLine(stream: stream, text: String(decoding: bytes[lineStart..<newline], as: UTF8.self)))
      lineStart = newline + 1
      index = lineStart
    }
    if !retain && lineStart > 0 {
      bytes.removeFirst(lineStart)
      lineStart = 0
    }
  }

  mutating func finish() -> String {
    if let onLine, lineStart < bytes.count {
      onLine(OutputLine(stream: stream, text: String(decoding: bytes[lineStart...], as: UTF8.self)))
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}

/// A running command's side of its channel: the input still to send, the output so far, and
/// whether a stream's stop has begun.
private struct CommandExchange {
  static let chunk = 32 * 1024

  let channel: OpaquePointer
  let input: ExecInput
  /// nil: stdin ends after `input` and the output is kept; else see `SSHSession.stream`.
  let drain: Duration?
  let what: String
  let operation: UInt64
  let buffer: UnsafeMutablePointer<CChar>
  var deadline: ContinuousClock.Instant?
  var stopping = false
  var stdin: [UInt8] = []
  var written = 0
  var eofSent = false
  var stdoutDone = false
  var stderrDone = false
  var out: LineCollector
  var err: LineCollector

  /// Streaming: waits end on cancellation (the request to stop) until the stop has begun;
  /// after that, nothing more is cancellable and `deadline` bounds the rest.
  var cancellable: Bool { drain == nil || !stopping }
}

extension SSHSession {
  /// Runs `command` through the user's login shell on the host, as `ssh host COMMAND` does.
  /// Quote every value in it (`ShellQuote`). stdout and stderr are kept apart; `onLine` gets each
  /// line as it arrives. `stdin` is sent to the command, then end-of-file (also when nil, so a
  /// command that reads stdin does not hang). A non-zero exit status is a result, not an error;
  /// errors are for what SSH could not do: `commandTimedOut` after `timeout`, `connectionLost`,
  /// `noExitStatus`.
  public func exec(
    _ command: String, stdin: [UInt8]? = nil, timeout: Duration? = nil,
    onLine: (@Sendable (OutputLine) -> Void)? = nil
  ) async throws -> ExecResult {
    try await exec(command, input: ExecInput(stdin ?? [], finished: true), timeout: timeout, onLine: onLine)
  }

  /// Like `exec(_:stdin:…)`, with input that is sent as it is given (`ExecInput.send`) and ends
  /// when `ExecInput.finish` is called: a conversation with a command that reads its stdin.
  public func exec(
    _ command: String, input: ExecInput, timeout: Duration? = nil,
    onLine: (@Sendable (OutputLine) -> Void)? = nil
  ) async throws -> ExecResult {
    try ensureUsable()
    input.attach(token)
    return try await runOnOwnChannel(
      command, input: input, until: timeout.map { ContinuousClock.now + $0 }, streaming: nil,
      timedOutAfter: timeout, onLine: onLine)
  }

  /// Runs `command` for as long as it runs, handing each output line to `onLine` as it arrives
  /// and keeping none (`docker logs --follow`). Its stdin stays open until the calling task is
  /// cancelled; then end-of-file is sent, and the command, which should end when its stdin ends,
  /// has `drain` to finish and print what it still holds (else `commandTimedOut`). A command
  /// that ends by itself ends the stream too. The result's stdout and stderr are empty.
  public func stream(
    _ command: String, drain: Duration = .seconds(10), onLine: @escaping @Sendable (OutputLine) -> Void
  ) async throws -> ExecResult {
    try ensureUsable()
    return try await runOnOwnChannel(
      command, input: ExecInput(), until: nil, streaming: drain, timedOutAfter: drain, onLine: onLine)
  }

  /// Runs `command` on a session channel of its own, released whatever happens; a deadline that
  /// passes becomes `commandTimedOut` after `limit`.
  private func runOnOwnChannel(
    _ command: String, input: ExecInput, until deadline: ContinuousClock.Instant?, streaming drain: Duration?,
    timedOutAfter limit: Duration?, onLine: (@Sendable (OutputLine) -> Void)?
  ) async throws -> ExecResult {
    var channel: ChannelHandle?
    do {
      let raw = handle.raw
      let opened = try await openChannel(until: deadline, request: "a session channel") {
        dc_libssh2_channel_open_session(raw)
      }
      channel = opened
      let result = try await run(
        command, on: opened, input: input, until: deadline, streaming: drain, onLine: onLine)
      await release(opened)
      return result
    } catch {
      if let channel { await release(channel) }
      if error is DeadlineExceeded, let limit {
        throw SSHError.commandTimedOut(host: target.name, command: command, after: limit)
      }
      throw error
    }
  }

  /// `streaming`: nil for a command whose stdin ends after `stdin` and whose output is kept;
  /// else how long the command may take to end once the task is cancelled (see `stream`).
  private func run(
    _ command: String, on channel: ChannelHandle, input: ExecInput, until deadline: ContinuousClock.Instant?,
    streaming drain: Duration?, onLine: (@Sendable (OutputLine) -> Void)?
  ) async throws -> ExecResult {
    let ch = channel.raw
    let what = "running \(SSHError.abbreviate(command))"
    try await start(command, on: ch, until: deadline, what)
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: CommandExchange.chunk, alignment: 16)
    defer { buffer.deallocate() }
    var exchange = CommandExchange(
      channel: ch, input: input, drain: drain, what: what, operation: newOperation(),
      buffer: buffer.bindMemory(to: CChar.self, capacity: CommandExchange.chunk), deadline: deadline,
      out: LineCollector(stream: .stdout, onLine: onLine, retain: drain == nil),
      err: LineCollector(stream: .stderr, onLine: onLine, retain: drain == nil))
    try await exchangeUntilOutputEnds(&exchange)
    // A stream's close is not cancellable (the stop is what leads here), so it is bounded.
    try await close(
      command, on: ch, until: exchange.deadline ?? drain.map { .now + $0 }, cancellable: drain == nil, what)
    let (status, signal) = exitStatus(of: ch)
    return ExecResult(
      exitStatus: status, exitSignal: signal, stdout: exchange.out.finish(), stderr: exchange.err.finish())
  }

  private func start(
    _ command: String, on ch: OpaquePointer, until deadline: ContinuousClock.Instant?, _ what: String
  ) async throws {
    let started = try await drive(until: deadline) { dc_libssh2_channel_exec(ch, command) }
    if started < 0 {
      if Self.isConnectionFailure(started) { try check(started, what) }
      throw SSHError.channelRefused(host: target.name, request: "the command", reason: handle.lastError)
    }
  }

  /// Sends input and reads output, waiting for the socket when neither moves, until both output
  /// streams have ended and no packet of this command is half-sent.
  private func exchangeUntilOutputEnds(_ exchange: inout CommandExchange) async throws {
    while !(exchange.stdoutDone && exchange.stderrDone && sendOwner != exchange.operation) {
      let generation = loop.generation(token)
      var progressed = try sendInput(&exchange)
      if sendOwner != exchange.operation, try readOutput(&exchange) { progressed = true }
      if !progressed {
        do {
          try await waitForSocket(
            exchange.operation, generation: generation, until: exchange.deadline,
            cancellable: exchange.cancellable)
        } catch is CancellationError where exchange.drain != nil {
          continue  // the stop begins: end-of-file goes out on the next turn
        }
      }
    }
  }

  /// One turn of the command's stdin: the next bytes, or end-of-file once the input is finished
  /// (a stream's: once the task is cancelled, which begins the stop). Returns whether it moved.
  private func sendInput(_ exchange: inout CommandExchange) throws -> Bool {
    if exchange.written == exchange.stdin.count, !exchange.eofSent, let more = exchange.input.take() {
      exchange.stdin = more
      exchange.written = 0
    }
    if exchange.written < exchange.stdin.count { return try writeInput(&exchange) }
    let inputEnds = exchange.drain == nil ? exchange.input.isFinished : Task.isCancelled
    guard !exchange.eofSent && inputEnds else { return false }
    if let drain = exchange.drain, !exchange.stopping {
      exchange.stopping = true
      exchange.deadline = .now + drain
    }
    let ch = exchange.channel
    guard case .done(let rc) = try attempt(exchange.operation, { libssh2_channel_send_eof(ch) }) else {
      return false
    }
    if rc < 0 && Self.isConnectionFailure(rc) { try check(rc, exchange.what) }
    exchange.eofSent = true
    return true
  }

  private func writeInput(_ exchange: inout CommandExchange) throws -> Bool {
    let (ch, stdin, written) = (exchange.channel, exchange.stdin, exchange.written)
    let attempted = try attempt(exchange.operation) {
      stdin.withUnsafeBytes { bytes in
        // Not empty (`written < stdin.count`), so it has an address.
        guard let start = bytes.baseAddress else { return 0 }
        return dc_libssh2_channel_write(
          ch, start.assumingMemoryBound(to: CChar.self) + written,
          min(stdin.count - written, CommandExchange.chunk))
      }
    }
    guard case .done(let n) = attempted else { return false }
    if n >= 0 {
      exchange.written += n
    } else if n == Int(LIBSSH2_ERROR_CHANNEL_CLOSED) || n == Int(LIBSSH2_ERROR_CHANNEL_EOF_SENT) {
      exchange.written = stdin.count  // the command ended without reading all of it
      exchange.eofSent = true
      exchange.input.discard()
    } else {
      try check(n, "sending input while \(exchange.what)")
    }
    return true
  }

  /// One read from each output stream that has not ended. Returns whether either moved.
  private func readOutput(_ exchange: inout CommandExchange) throws -> Bool {
    var progressed = false
    let (ch, base, chunk) = (exchange.channel, exchange.buffer, CommandExchange.chunk)
    for stream in [OutputLine.Stream.stdout, .stderr]
    where stream == .stdout ? !exchange.stdoutDone : !exchange.stderrDone {
      let read = try attempt(exchange.operation) {
        stream == .stdout
          ? dc_libssh2_channel_read(ch, base, chunk) : dc_libssh2_channel_read_stderr(ch, base, chunk)
      }
      guard case .done(let n) = read else { continue }
      if n > 0 {
        let bytes = UnsafeRawBufferPointer(start: base, count: n)
        if stream == .stdout { exchange.out.append(bytes) } else { exchange.err.append(bytes) }
        progressed = true
      } else if n == 0 {
        if libssh2_channel_eof(ch) != 0 {
          if stream == .stdout { exchange.stdoutDone = true } else { exchange.stderrDone = true }
          progressed = true
        }
      } else {
        try check(n, exchange.what)
      }
    }
    return progressed
  }

  /// The output is complete. The exit status arrives before the server closes the channel;
  /// if the connection drops in between, the command's outcome is unknown: an error.
  private func close(
    _ command: String, on ch: OpaquePointer, until deadline: ContinuousClock.Instant?, cancellable: Bool,
    _ what: String
  ) async throws {
    do {
      let closed = try await drive(until: deadline, cancellable: cancellable) { libssh2_channel_close(ch) }
      try check(closed, what)
      let waited = try await drive(until: deadline, cancellable: cancellable) {
        libssh2_channel_wait_closed(ch)
      }
      try check(waited, what)
    } catch let error as SSHError {
      if case .connectionLost(_, _, let reason) = error {
        throw SSHError.noExitStatus(host: target.name, command: command, reason: reason)
      }
      throw error
    }
  }

  /// The exit status of a closed channel, and the signal that ended the command if one did.
  private func exitStatus(of ch: OpaquePointer) -> (status: Int32, signal: String?) {
    var signalName: UnsafeMutablePointer<CChar>?
    _ = dc_libssh2_channel_exit_signal(ch, &signalName)
    var signal: String?
    if let signalName {
      signal = String(cString: signalName)
      libssh2_free(handle.raw, signalName)
    }
    return (signal.map { 128 + Self.signalNumber($0) } ?? libssh2_channel_get_exit_status(ch), signal)
  }

  static func signalNumber(_ name: String) -> Int32 {
    let numbers: [String: Int32] = [
      "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9, "USR1": 10, "SEGV": 11,
      "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
    ]
    return numbers[name] ?? 127
  }

  // MARK: Upload

  /// Writes `data` to `path` on the host with `mode`. The content travels on the command's stdin,
  /// never on a command line. The file is created 0600 under a temporary name next to `path`
  /// (mktemp, umask 077), filled, given `mode`, then renamed over `path`: it is never readable by
  /// others before it has its final mode, and readers never see half a file.
  public func upload(_ data: [UInt8], to path: String, mode: Int = 0o600, timeout: Duration? = nil)
    async throws
  {
    guard (0...0o7777).contains(mode) else {
      throw SSHError.uploadFailed(
        host: target.name, path: path, reason: "mode \(String(mode, radix: 8)) is not a file mode")
    }
    let folder = (path as NSString).deletingLastPathComponent
    let name = (path as NSString).lastPathComponent
    let template = (folder.isEmpty ? "" : folder + "/") + ".\(name).deployctl-XXXXXX"
    let command =
      "umask 077 && tmp=$(mktemp \(ShellQuote.quote(template))) && trap 'rm -f \"$tmp\"' EXIT"
      + " && cat > \"$tmp\" && chmod \(String(mode, radix: 8)) \"$tmp\" && mv -f \"$tmp\" \(ShellQuote.quote(path))"
    let result = try await exec(command, stdin: data, timeout: timeout)
    guard result.succeeded else {
      let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
      throw SSHError.uploadFailed(
        host: target.name, path: path,
        reason: message.isEmpty ? "the remote shell exited with status \(result.exitStatus)" : message)
    }
  }

  public func upload(_ data: Data, to path: String, mode: Int = 0o600, timeout: Duration? = nil) async throws
  {
    try await upload([UInt8](data), to: path, mode: mode, timeout: timeout)
  }
}

/// Input for a command that is sent as it comes: `send` queues bytes and wakes the channel's
/// loop; `finish` sends end-of-file once everything queued is out.
public final class ExecInput: Sendable {
  private struct State {
    var queued: [UInt8] = []
    var finished = false
    var token: UInt64 = 0
  }
  private let state: Locked<State>

  public init(_ bytes: [UInt8] = [], finished: Bool = false) {
    state = Locked(State(queued: bytes, finished: finished))
  }

  func attach(_ token: UInt64) { state.withLock { $0.token = token } }

  public func send(_ bytes: [UInt8]) {
    let token = state.withLock { state -> UInt64 in
      if !state.finished { state.queued += bytes }
      return state.token
    }
    if token != 0 { EventLoop.shared.poke(token) }
  }

  public func send(_ text: String) { send(Array(text.utf8)) }

  public func finish() {
    let token = state.withLock { state -> UInt64 in
      state.finished = true
      return state.token
    }
    if token != 0 { EventLoop.shared.poke(token) }
  }

  /// Everything queued so far, if anything.
  func take() -> [UInt8]? {
    state.withLock { state in
      guard !state.queued.isEmpty else { return nil }
      defer { state.queued = [] }
      return state.queued
    }
  }

  func discard() { state.withLock { $0.queued = [] } }

  /// Finished and nothing left to send.
  var isFinished: Bool { state.withLock { $0.finished && $0.queued.isEmpty } }
}
