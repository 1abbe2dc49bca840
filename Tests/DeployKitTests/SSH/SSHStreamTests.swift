import Foundation
import TestSupport
import Testing

@testable import DeployKit
@testable import DeployTransport

@Suite("SSH stream against a real sshd")
struct SSHStreamTests {
  @Test func stdinStaysOpenUntilTheTaskIsCancelledThenTheCommandFinishes() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target())
      let lines = LineLog()
      // `cat` ends only when stdin does: the lines after it show that cancelling sent
      // end-of-file and that the command's last output was still read.
      let stream = Task {
        try await session.stream("echo ready; cat >/dev/null; echo after-eof; echo bye >&2") {
          lines.append($0)
        }
      }
      #expect(await eventually(timeout: .seconds(30)) { lines.all.contains { $0.text == "ready" } })
      #expect(!lines.all.contains { $0.text == "after-eof" }, "stdin is still open before the stop")
      stream.cancel()
      let result = try await stream.value
      #expect(result.succeeded)
      #expect(result.stdout == "" && result.stderr == "", "a stream keeps no output")
      #expect(
        lines.all == [
          OutputLine(stream: .stdout, text: "ready"), OutputLine(stream: .stdout, text: "after-eof"),
          OutputLine(stream: .stderr, text: "bye"),
        ])
      // The session is still usable for the next command.
      #expect(try await session.exec("echo again").stdout == "again\n")
      await session.close()
    }
  }

  @Test func aCommandThatEndsByItselfEndsTheStream() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target())
      let lines = LineLog()
      let result = try await session.stream("for i in 1 2 3; do echo o$i; done; exit 4") { lines.append($0) }
      #expect(result.exitStatus == 4)
      #expect(lines.all.map(\.text) == ["o1", "o2", "o3"])
      await session.close()
    }
  }

  @Test func aCommandThatIgnoresEndOfFileTimesOutAfterTheDrain() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target())
      let lines = LineLog()
      let stream = Task {
        try await session.stream("echo ready; sleep 30", drain: .milliseconds(300)) { lines.append($0) }
      }
      #expect(await eventually(timeout: .seconds(30)) { lines.all.contains { $0.text == "ready" } })
      stream.cancel()
      await #expect {
        _ = try await stream.value
      } throws: { error in
        guard case SSHError.commandTimedOut(_, let command, let after) = error else { return false }
        return command == "echo ready; sleep 30" && after == .milliseconds(300)
      }
      await session.close()
    }
  }
}
