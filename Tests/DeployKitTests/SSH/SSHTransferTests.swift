import Foundation
import TestSupport
import Testing

@testable import DeployKit
@testable import DeployTransport

@Suite("SSH upload and port forwarding against a real sshd")
struct SSHTransferTests {
  private func mode(_ path: String) throws -> Int {
    try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! Int
  }

  @Test func uploadWritesTheFileWithMode0600() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target())
      let path = "\(server.directory)/app dir/it's.env"
      try FileManager.default.createDirectory(
        atPath: "\(server.directory)/app dir", withIntermediateDirectories: true)
      let secret = "DATABASE_URL=postgres://user:s3cr3t@db/app\n"
      try await session.upload(Array(secret.utf8), to: path)
      #expect(try String(contentsOfFile: path, encoding: .utf8) == secret)
      #expect(try mode(path) == 0o600)
      // No temporary file left next to it.
      #expect(
        try FileManager.default.contentsOfDirectory(atPath: "\(server.directory)/app dir") == ["it's.env"])
      await session.close()
    }
  }

  @Test func uploadReplacesAWorldReadableFileWithA0600One() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target())
      let path = "\(server.directory)/secrets.env"
      try "old\n".write(toFile: path, atomically: true, encoding: .utf8)
      try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
      let binary = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
      try await session.upload(binary, to: path)
      #expect(try mode(path) == 0o600)
      #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == binary)
      try await session.upload(Array("public\n".utf8), to: path, mode: 0o644)
      #expect(try mode(path) == 0o644)
      await session.close()
    }
  }

  @Test func uploadIntoAMissingFolderFailsNamingThePath() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target(name: "web3"))
      let path = "\(server.directory)/missing/file"
      await #expect {
        try await session.upload(Array("x".utf8), to: path)
      } throws: { error in
        guard case SSHError.uploadFailed(let host, let failed, let reason) = error else { return false }
        return host == "web3" && failed == path && !reason.isEmpty
      }
      await session.close()
    }
  }

  @Test func portForwardReachesALoopbackOnlyHTTPServerOnTheHost() async throws {
    let http = try await LocalHTTPServer.start(files: ["healthz": "ok from the host\n"])
    defer { http.stop() }
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target())
      let forward = try await session.forward(remotePort: http.port)
      #expect(forward.localPort != http.port)
      for _ in 0..<3 {
        let response = try await runCapturing(
          "/usr/bin/curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(forward.localPort)/healthz"])
        #expect(response.status == 0)
        #expect(response.stdout == "ok from the host\n")
      }
      await forward.close()
      let after = try await runCapturing(
        "/usr/bin/curl", ["-sS", "--max-time", "5", "http://127.0.0.1:\(forward.localPort)/healthz"])
      #expect(after.status != 0)
      #expect(try await session.exec("echo session still works").stdout == "session still works\n")
      await session.close()
    }
  }

  @Test func forwardToAClosedPortRecordsWhy() async throws {
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target(name: "web4"))
      let closed = try freeLoopbackPort()
      let forward = try await session.forward(remotePort: closed)
      let response = try await runCapturing(
        "/usr/bin/curl", ["-sS", "--max-time", "10", "http://127.0.0.1:\(forward.localPort)/"])
      #expect(response.status != 0)
      let error = try #require(forward.lastError)
      #expect("\(error)".hasPrefix("web4: port forward to 127.0.0.1:\(closed) failed"))
      await session.close()
    }
  }

  @Test func forwardAndCommandsShareOneSession() async throws {
    let http = try await LocalHTTPServer.start(files: ["big": String(repeating: "0123456789", count: 200_000)]
    )
    defer { http.stop() }
    try await withSSHD { server in
      let session = try await SSHSession.connect(to: server.target())
      let forward = try await session.forward(remotePort: http.port)
      async let download = runCapturing(
        "/usr/bin/curl", ["-sS", "--max-time", "30", "http://127.0.0.1:\(forward.localPort)/big"])
      async let output = session.exec("head -c 1500000 /dev/zero | tr '\\0' z")
      let (body, result) = try await (download, output)
      #expect(body.stdout.utf8.count == 2_000_000)
      #expect(result.stdout.utf8.count == 1_500_000)
      await session.close()
    }
  }
}
