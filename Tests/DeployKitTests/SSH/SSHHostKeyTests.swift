import Foundation
import TestSupport
import Testing

@testable import DeployConfig
@testable import DeployKit
@testable import DeployTransport

@Suite("SSH host keys against a real sshd")
struct SSHHostKeyTests {
  @Test func unknownKeyIsRefusedUnderStrictWithOpenSSHFingerprint() async throws {
    try await withSSHD { server in
      let empty = "\(server.directory)/empty_known_hosts"
      let expected = try await server.hostKeyFingerprint()
      await #expect {
        _ = try await SSHSession.connect(to: server.target(name: "web1", knownHosts: empty))
      } throws: { error in
        guard case SSHError.hostKeyUnknown(let host, let name, let key, let file, _) = error else {
          return false
        }
        let message = "\(error)"
        return host == "web1" && name == "[127.0.0.1]:\(server.port)" && key.sha256 == expected
          && key.algorithm == "ssh-ed25519" && file == empty && message.contains(expected)
          && message.contains("ssh-keyscan -p \(server.port) -t ed25519 127.0.0.1")
          && message.hasPrefix("web1:")
      }
      #expect(!FileManager.default.fileExists(atPath: empty))
    }
  }

  @Test func acceptNewRecordsTheKeyAndTheNextConnectPassesStrict() async throws {
    try await withSSHD { server in
      let file = "\(server.directory)/new/known_hosts"
      let first = try await SSHSession.connect(to: server.target(policy: .acceptNew, knownHosts: file))
      #expect(try await first.exec("echo ok").stdout == "ok\n")
      await first.close()

      let recorded = try String(contentsOfFile: file, encoding: .utf8)
      let hostPublic = try String(contentsOfFile: "\(server.hostKey).pub", encoding: .utf8).split(
        separator: " ")
      #expect(recorded == "[127.0.0.1]:\(server.port) \(hostPublic[0]) \(hostPublic[1])\n")
      let attributes = try FileManager.default.attributesOfItem(atPath: file)
      #expect((attributes[.posixPermissions] as? Int) == 0o600)

      let second = try await SSHSession.connect(to: server.target(policy: .strict, knownHosts: file))
      #expect(try await second.exec("echo again").stdout == "again\n")
      await second.close()
      // Recorded once, not again on the second connect.
      #expect(try String(contentsOfFile: file, encoding: .utf8) == recorded)
    }
  }

  @Test(arguments: [HostKeyPolicy.strict, .acceptNew])
  func changedKeyIsRefusedUnderEveryPolicy(policy: HostKeyPolicy) async throws {
    try await withSSHD { server in
      let other = try await makeKey("\(server.directory)/other_host_key")
      let otherPublic = try String(contentsOfFile: "\(other).pub", encoding: .utf8).split(separator: " ")
      let file = "\(server.directory)/changed_known_hosts"
      let line = "[127.0.0.1]:\(server.port) \(otherPublic[0]) \(otherPublic[1])\n"
      try line.write(toFile: file, atomically: true, encoding: .utf8)
      let expected = try await server.hostKeyFingerprint()
      await #expect {
        _ = try await SSHSession.connect(to: server.target(name: "web2", policy: policy, knownHosts: file))
      } throws: { error in
        guard case SSHError.hostKeyChanged(let host, _, let key, _) = error else { return false }
        let message = "\(error)"
        return host == "web2" && key.sha256 == expected && message.contains("HOST KEY CHANGED")
          && message.contains("ssh-keygen -R '[127.0.0.1]:\(server.port)'")
      }
      // Nothing was added or replaced.
      #expect(try String(contentsOfFile: file, encoding: .utf8) == line)
    }
  }

  @Test func hashedKnownHostsEntriesAreUnderstood() async throws {
    try await withSSHD { server in
      _ = try await runProgram("/usr/bin/ssh-keygen", ["-H", "-f", server.knownHosts])
      let hashed = try String(contentsOfFile: server.knownHosts, encoding: .utf8)
      #expect(hashed.hasPrefix("|1|"))
      let session = try await SSHSession.connect(to: server.target())
      #expect(try await session.exec("echo hashed").stdout == "hashed\n")
      await session.close()
    }
  }

  @Test func aHostKnownByItsECDSAKeyIsAskedForThatKey() async throws {
    // sshd offers ed25519 and ECDSA; known_hosts has only the ECDSA key. Offering ed25519 first
    // would make the host look unknown.
    let folder = try makeTemporaryDirectory("deployctl-ecdsa")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let ecdsa = try await makeKey("\(folder)/host_ecdsa_key", type: "ecdsa")
    try await withSSHD(extraConfig: ["HostKey \(ecdsa)"]) { server in
      let ecdsaPublic = try String(contentsOfFile: "\(ecdsa).pub", encoding: .utf8).split(separator: " ")
      let file = "\(folder)/known_hosts"
      try "[127.0.0.1]:\(server.port) \(ecdsaPublic[0]) \(ecdsaPublic[1])\n".write(
        toFile: file, atomically: true, encoding: .utf8)
      let session = try await SSHSession.connect(to: server.target(knownHosts: file))
      #expect(try await session.exec("echo ecdsa").stdout == "ecdsa\n")
      await session.close()
    }
  }

  @Test func revokedKeyIsRefused() async throws {
    try await withSSHD { server in
      let hostPublic = try String(contentsOfFile: "\(server.hostKey).pub", encoding: .utf8).split(
        separator: " ")
      let file = "\(server.directory)/revoked_known_hosts"
      let known = try String(contentsOfFile: server.knownHosts, encoding: .utf8)
      try (known + "@revoked * \(hostPublic[0]) \(hostPublic[1])\n").write(
        toFile: file, atomically: true, encoding: .utf8)
      await #expect {
        _ = try await SSHSession.connect(to: server.target(policy: .acceptNew, knownHosts: file))
      } throws: { error in
        if case SSHError.hostKeyRevoked = error { return true }
        return false
      }
    }
  }
}
