import Foundation
import TestSupport
import Testing

@testable import DeployKit
@testable import DeployTransport

@Suite("SSH authentication against a real sshd")
struct SSHAuthenticationTests {
  @Test func wrongKeyFailsListingMethodsAndKeysTried() async throws {
    try await withSSHD { server in
      let stranger = try await makeKey("\(server.directory)/stranger_key")
      await #expect {
        _ = try await SSHSession.connect(to: server.target(name: "db1", identity: .file(stranger)))
      } throws: { error in
        guard case SSHError.authenticationFailed(let host, _, let methods, let tried) = error else {
          return false
        }
        let message = "\(error)"
        return host == "db1" && methods == ["publickey"] && tried.count == 1 && tried[0].contains(stranger)
          && tried[0].contains("rejected by the server") && message.contains("root@127.0.0.1:\(server.port)")
      }
    }
  }

  @Test func missingKeyFileIsNamed() async throws {
    try await withSSHD { server in
      let missing = "\(server.directory)/no_such_key"
      await #expect {
        _ = try await SSHSession.connect(to: server.target(identity: .file(missing)))
      } throws: { error in
        guard case SSHError.authenticationFailed(_, _, _, let tried) = error else { return false }
        return tried == ["key \(missing) (cannot read the file)"]
      }
    }
  }

  @Test(arguments: ["ecdsa", "ed25519"])
  func keyTypesInOpenSSHFormatWork(type: String) async throws {
    try await withSSHD(clientKeyType: type) { server in
      let key = try String(contentsOfFile: server.clientKey, encoding: .utf8)
      #expect(key.hasPrefix("-----BEGIN OPENSSH PRIVATE KEY-----"))
      let session = try await SSHSession.connect(to: server.target())
      #expect(try await session.exec("whoami").stdout == "root\n")
      await session.close()
    }
  }

  @Test func ecdsaKeyInPEMFormatWorks() async throws {
    try await withSSHD { server in
      let pem = try await makeKey("\(server.directory)/pem_key", type: "ecdsa", format: "PEM")
      try FileManager.default.removeItem(atPath: "\(server.directory)/authorized_keys")
      try FileManager.default.copyItem(atPath: "\(pem).pub", toPath: "\(server.directory)/authorized_keys")
      let session = try await SSHSession.connect(to: server.target(identity: .file(pem)))
      #expect(try await session.exec("true").succeeded)
      await session.close()
    }
  }

  @Test func rsaKeyIsRefusedByOpenSSH9WithAHintAndWorksWhereSHA1IsAllowed() async throws {
    try await withSSHD(clientKeyType: "rsa") { server in
      await #expect {
        _ = try await SSHSession.connect(to: server.target())
      } throws: { error in
        guard case SSHError.authenticationFailed(_, _, _, let tried) = error else { return false }
        return tried.count == 1 && tried[0].contains("use an ed25519 or ECDSA key")
      }
    }
    try await withSSHD(extraConfig: ["PubkeyAcceptedAlgorithms +ssh-rsa"], clientKeyType: "rsa") { server in
      let session = try await SSHSession.connect(to: server.target())
      #expect(try await session.exec("true").succeeded)
      await session.close()
    }
  }

  @Test func agentKeysAreTriedWhenNoKeyFileIsGiven() async throws {
    try await withSSHD { server in
      let socket = "\(server.directory)/agent.sock"
      let agent = try ChildProcess.spawn("/usr/bin/ssh-agent", ["-D", "-a", socket])
      defer { agent.terminate() }
      #expect(await eventually { FileManager.default.fileExists(atPath: socket) })

      // An agent holding only a stranger's key: that key is tried and named.
      let stranger = try await makeKey("\(server.directory)/stranger_key")
      try await runProgram("/usr/bin/ssh-add", ["-q", stranger], environment: ["SSH_AUTH_SOCK": socket])
      await #expect {
        _ = try await SSHSession.connect(to: server.target(identity: .agent(socket: socket)))
      } throws: { error in
        guard case SSHError.authenticationFailed(_, _, _, let tried) = error else { return false }
        return tried == ["agent key deployctl-test (rejected by the server)"]
      }

      try await runProgram(
        "/usr/bin/ssh-add", ["-q", server.clientKey], environment: ["SSH_AUTH_SOCK": socket])
      let session = try await SSHSession.connect(to: server.target(identity: .agent(socket: socket)))
      #expect(try await session.exec("echo agent").stdout == "agent\n")
      await session.close()
    }
  }

  @Test func agentWithoutSocketSaysSo() async throws {
    try await withSSHD { server in
      let socket = "\(server.directory)/no-agent.sock"
      await #expect {
        _ = try await SSHSession.connect(to: server.target(identity: .agent(socket: socket)))
      } throws: { error in
        guard case SSHError.authenticationFailed(_, _, _, let tried) = error else { return false }
        return tried.count == 1 && tried[0].hasPrefix("ssh-agent at \(socket) (cannot connect")
      }
    }
  }
}

/// Tests that set DEPLOYCTL_SSH_PASSPHRASE in this process run one at a time.
@Suite("SSH key passphrases", .serialized)
struct SSHPassphraseTests {
  @Test func encryptedKeyUsesThePassphraseFromTheEnvironment() async throws {
    try await withSSHD { server in
      let key = try await makeKey("\(server.directory)/encrypted_key", passphrase: "correct horse")
      try FileManager.default.removeItem(atPath: "\(server.directory)/authorized_keys")
      try FileManager.default.copyItem(atPath: "\(key).pub", toPath: "\(server.directory)/authorized_keys")
      defer { unsetenv("DEPLOYCTL_SSH_PASSPHRASE") }

      unsetenv("DEPLOYCTL_SSH_PASSPHRASE")
      await #expect {
        _ = try await SSHSession.connect(to: server.target(identity: .file(key)))
      } throws: { error in
        guard case SSHError.authenticationFailed(_, _, _, let tried) = error else { return false }
        return tried.count == 1 && tried[0].contains("set DEPLOYCTL_SSH_PASSPHRASE")
      }

      setenv("DEPLOYCTL_SSH_PASSPHRASE", "wrong", 1)
      await #expect {
        _ = try await SSHSession.connect(to: server.target(identity: .file(key)))
      } throws: { error in
        guard case SSHError.authenticationFailed(_, _, _, let tried) = error else { return false }
        return tried.count == 1 && tried[0].contains("is DEPLOYCTL_SSH_PASSPHRASE its passphrase?")
          && !"\(error)".contains("wrong")
      }

      setenv("DEPLOYCTL_SSH_PASSPHRASE", "correct horse", 1)
      let session = try await SSHSession.connect(to: server.target(identity: .file(key)))
      #expect(try await session.exec("true").succeeded)
      await session.close()
    }
  }
}
