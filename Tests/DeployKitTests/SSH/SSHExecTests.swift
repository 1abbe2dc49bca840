import Foundation
import TestSupport
import Testing

@testable import DeployConfig
@testable import DeployKit
@testable import DeployTransport

@Suite("SSH exec against a real sshd")
struct SSHExecTests {
  @Test func execReturnsStdoutStderrAndExitStatus() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target())
      let result = try await session.exec("echo out; echo err >&2; exit 3")
      #expect(result.stdout == "out\n")
      #expect(result.stderr == "err\n")
      #expect(result.exitStatus == 3)
      #expect(!result.succeeded)
      let ok = try await session.exec("true")
      #expect(ok.succeeded)
      await session.close()
    }
  }

  @Test func stderrStaysApartFromStdoutWhenInterleaved() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target())
      let result = try await session.exec("for i in 1 2 3; do echo o$i; echo e$i >&2; done")
      #expect(result.stdout == "o1\no2\no3\n")
      #expect(result.stderr == "e1\ne2\ne3\n")
      await session.close()
    }
  }

  @Test func linesAreStreamedAsTheyArrive() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target())
      let lines = LineLog()
      // The second line is printed only after the first was seen here: streaming, not buffering.
      let marker = "\(server.directory)/seen"
      let command =
        "echo first; i=0; while [ ! -e \(ShellQuote.quote(marker)) ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done;"
        + " echo second; printf partial >&2"
      let result = try await session.exec(command) { line in
        lines.append(line)
        if line.text == "first" { _ = FileManager.default.createFile(atPath: marker, contents: nil) }
      }
      #expect(
        lines.all == [
          OutputLine(stream: .stdout, text: "first"), OutputLine(stream: .stdout, text: "second"),
          OutputLine(stream: .stderr, text: "partial"),
        ])
      #expect(result.stdout == "first\nsecond\n")
      #expect(FileManager.default.fileExists(atPath: marker))
      await session.close()
    }
  }

  @Test func stdinIsSentThenEndOfFile() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target())
      let big = [UInt8](repeating: UInt8(ascii: "x"), count: 1_000_000)
      let result = try await session.exec("wc -c", stdin: big)
      #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1000000")
      let empty = try await session.exec("cat")
      #expect(empty.stdout == "" && empty.succeeded)
      await session.close()
    }
  }

  @Test func largeOutputOnBothStreams() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target())
      let result = try await session.exec(
        "head -c 3000000 /dev/zero | tr '\\0' a; head -c 2000000 /dev/zero | tr '\\0' b >&2")
      #expect(result.stdout.utf8.count == 3_000_000)
      // Counted by letter: a login shell on some machines writes its own warnings to stderr first.
      #expect(result.stderr.utf8.lazy.filter { $0 == UInt8(ascii: "b") }.count == 2_000_000)
      await session.close()
    }
  }

  @Test func commandTimeoutIsAnErrorNamingTheHostAndLeavesTheSessionUsable() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target(name: "web1"))
      await #expect {
        _ = try await session.exec("sleep 5", timeout: .milliseconds(300))
      } throws: { error in
        guard case SSHError.commandTimedOut(let host, let command, _) = error else { return false }
        return host == "web1" && command == "sleep 5" && "\(error)".contains("web1")
      }
      let after = try await session.exec("echo still here")
      #expect(after.stdout == "still here\n")
      await session.close()
    }
  }

  @Test func signalEndsCommandWithSignalName() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target())
      let result = try await session.exec("kill -TERM $$")
      #expect(result.exitSignal == "TERM")
      #expect(result.exitStatus == 128 + 15)
      #expect(!result.succeeded)
      await session.close()
    }
  }

  @Test func oneSessionRunsManyCommandsConcurrently() async throws {
    try await withSSHD(extraConfig: ["MaxSessions 20"]) { server in
      let session = try await SSHSession.connect(to: server.target())
      let outputs = try await withThrowingTaskGroup(of: String.self) { group in
        for i in 0..<8 {
          group.addTask { try await session.exec("sleep 0.2; echo \(i)").stdout }
        }
        return try await group.reduce(into: []) { $0.append($1) }
      }
      #expect(Set(outputs) == Set((0..<8).map { "\($0)\n" }))
      await session.close()
    }
  }

  @Test func connectionLostMidCommandIsAnError() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target(name: "web1"))
      await #expect {
        _ = try await session.exec("echo started; sleep 10") { line in
          if line.text == "started" {
            for child in server.connectionProcesses { kill(child, SIGKILL) }
          }
        }
      } throws: { error in
        guard case SSHError.connectionLost(let host, _, _) = error else { return false }
        return host == "web1"
      }
      #expect(!(await session.isUsable))
    }
  }

  @Test func outputEndedButNoExitStatusIsAnErrorNotSuccess() async throws {
    try await withSSHD(extraConfig: ["LogLevel DEBUG2"]) { server in
      let session = try await SSHSession.connect(to: server.target(name: "web1"))
      // The command closes its output, so the server sends EOF; we then ask to close the
      // channel (sshd logs it) and wait for the exit status, and the connection dies first.
      let killer = Task.detached {
        await eventually(timeout: .seconds(60)) { server.log.contains("rcvd close") }
        for child in server.connectionProcesses { kill(child, SIGKILL) }
      }
      await #expect {
        _ = try await session.exec("exec >/dev/null 2>&1; sleep 10")
      } throws: { error in
        guard case SSHError.noExitStatus(let host, _, _) = error else { return false }
        return host == "web1"
      }
      await killer.value
    }
  }
}

/// Lines received by a callback, in order.
final class LineLog: @unchecked Sendable {
  private let lock = NSLock()
  private var lines: [OutputLine] = []
  func append(_ line: OutputLine) { lock.withLock { lines.append(line) } }
  var all: [OutputLine] { lock.withLock { lines } }
}

@Suite("SSH keepalive")
struct SSHKeepaliveTests {
  @Test func anIdleSessionSendsKeepalivesAndStaysUsable() async throws {
    try await withSSHD(extraConfig: ["LogLevel DEBUG1"]) { server in
      var target = server.target()
      target.keepaliveInterval = .seconds(1)
      let session = try await SSHSession.connect(to: target)
      #expect(try await session.exec("true").succeeded)
      #expect(await eventually(timeout: .seconds(20)) { server.log.contains("keepalive@libssh2.org") })
      #expect(try await session.exec("echo alive").stdout == "alive\n")
      await session.close()
    }
  }
}
