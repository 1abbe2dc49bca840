import Foundation

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployTransport

/// `/bin/sh -s` on this machine, started as a `RemoteShell`: the stand-in for a host's shell over
/// SSH in the wire-protocol tests (this is a local sh, not sshd: what travels is the same script
/// text on stdin and the same lines back).
enum LocalShell {
  static func start() -> RemoteShell {
    RemoteShell(host: "local-sh") { input, onLine in
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/bin/sh")
      process.arguments = ["-s"]
      let stdin = Pipe()
      let stdout = Pipe()
      process.standardInput = stdin
      process.standardOutput = stdout
      process.standardError = stdout
      try process.run()
      let writer = stdin.fileHandleForWriting
      // The script text as `ExecInput` queues it (SSH's event loop does this for a channel).
      Thread.detachNewThread {
        while process.isRunning {
          if let bytes = input.take() { try? writer.write(contentsOf: bytes) }
          if input.isFinished {
            try? writer.close()
            return
          }
          usleep(2_000)
        }
      }
      return await withCheckedContinuation { continuation in
        Thread.detachNewThread {
          var pending = Data()
          let reader = stdout.fileHandleForReading
          while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
              onLine(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
              pending = Data(pending[(newline + 1)...])
            }
          }
          if !pending.isEmpty { onLine(String(decoding: pending, as: UTF8.self)) }
          process.waitUntilExit()
          continuation.resume(returning: process.terminationStatus)
        }
      }
    }
  }

  /// A `ShellSession` whose shells are local `/bin/sh`s; `opened` counts them.
  static func session(opened: Locked<Int> = Locked(0)) -> ShellSession {
    ShellSession(host: "local-sh") {
      opened.withLock { $0 += 1 }
      return (start(), nil)
    }
  }
}

/// A transport that answers each script from `answer` (section name → printed lines and status;
/// a section left out did not run), and keeps every script it was sent.
final class CannedTransport: HostTransport {
  let host = "h1"
  let sent = Locked<[RemoteScript]>([])
  let answer: @Sendable (RemoteScript) -> [String: (lines: [String], status: Int32)]

  init(_ answer: @escaping @Sendable (RemoteScript) -> [String: (lines: [String], status: Int32)]) {
    self.answer = answer
  }

  func run(_ script: RemoteScript, timeout: Duration) async throws -> TransportRun {
    sent.withLock { $0.append(script) }
    let answers = answer(script)
    var lines: [String] = []
    for section in script.sections {
      guard let (printed, status) = answers[section.name] else { continue }
      lines.append("::deployctl:\(script.token):: section \(section.index) \(section.name)")
      lines += printed
      lines.append("::deployctl:\(script.token):: status \(section.index) \(status)")
    }
    return TransportRun(output: RemoteScriptOutput(lines: lines, token: script.token))
  }

  func exec(_ command: RemoteCommand, timeout: Duration?, onLine: (@Sendable (OutputLine) -> Void)?)
    async throws -> ExecResult
  {
    ExecResult(exitStatus: 0, stdout: "renewed\n", stderr: "")
  }

  func stream(_ command: RemoteCommand, onLine: @escaping @Sendable (OutputLine) -> Void) async throws
    -> ExecResult
  {
    ExecResult(exitStatus: 0, stdout: "", stderr: "")
  }

  func forward(remotePort: Int, remoteHost: String) async throws -> PortForward {
    throw RemoteShellError.closed(reason: "no port forwards in canned answers")
  }

  func close() async {}
}
