import DeployConfig
import DeployKit
import DeployTransport
import Foundation
import TestSupport
import Testing

/// The SSH transport against the testbed's hosts (network namespaces on a bridge).
@Suite("SSH on the testbed", .enabled(if: Testbed.isAvailable))
struct SSHTestbedTests {
  private func target(_ host: Testbed.Host, _ testbed: Testbed, timeout: Duration = .seconds(15)) -> SSHTarget
  {
    SSHTarget(
      name: host.name, address: host.address, user: testbed.sshUser, identity: .file(testbed.identityFile),
      knownHostsFile: testbed.knownHosts, connectTimeout: timeout)
  }

  private func jump(_ host: Testbed.Host, _ testbed: Testbed, timeout: Duration = .seconds(15)) -> SSHJump {
    SSHJump(
      address: host.address, user: testbed.sshUser, identity: .file(testbed.identityFile),
      knownHostsFile: testbed.knownHosts, connectTimeout: timeout)
  }

  /// This machine loses its route to `address` (other namespaces keep theirs) while `body` runs.
  private func withoutRoute<T>(to address: String, _ body: () async throws -> T) async throws -> T {
    // A killed run's route may still be there.
    _ = try? await runProgram("/usr/sbin/ip", ["route", "del", "unreachable", "\(address)/32"])
    try await runProgram("/usr/sbin/ip", ["route", "add", "unreachable", "\(address)/32"])
    do {
      let result = try await body()
      try await runProgram("/usr/sbin/ip", ["route", "del", "unreachable", "\(address)/32"])
      return result
    } catch {
      _ = try? await runProgram("/usr/sbin/ip", ["route", "del", "unreachable", "\(address)/32"])
      throw error
    }
  }

  @Test func jumpHostReachesAHostThisMachineCannot() async throws {
    try await Testbed.use { testbed in
      let bastion = try #require(testbed.hosts.last)
      let hidden = try #require(testbed.hosts.first { $0 != bastion })
      try await withoutRoute(to: hidden.address) {
        await #expect {
          _ = try await SSHSession.connect(to: target(hidden, testbed))
        } throws: { error in
          guard case SSHError.unreachable(let name, _, _) = error else { return false }
          return name == hidden.name
        }

        var behind = target(hidden, testbed)
        behind.jump = jump(bastion, testbed)
        let session = try await SSHSession.connect(to: behind)
        let result = try await session.exec("hostname; echo $SSH_CONNECTION")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.first.map(String.init) == hidden.name)
        // The hidden host sees the connection come from the bastion.
        #expect(lines.last?.hasPrefix("\(bastion.address) ") == true)
        await session.close()
      }
    }
  }

  @Test func jumpHostFailuresNameTheJumpHostAndThePhase() async throws {
    try await Testbed.use { testbed in
      let bastion = try #require(testbed.hosts.last)
      let hidden = try #require(testbed.hosts.first { $0 != bastion })
      // A cut link must read as a timeout: past about 3 s the kernel gives up on ARP and says
      // "no route to host" instead, so this bound stays short.
      var behind = target(hidden, testbed)
      behind.jump = jump(bastion, testbed, timeout: .seconds(2))

      try await testbed.cut(bastion)
      do {
        await #expect {
          _ = try await SSHSession.connect(to: behind)
        } throws: { error in
          guard case SSHError.jumpFailed(let name, let jumpName, .timedOut(_, _, .connect, _)) = error else {
            return false
          }
          return name == hidden.name && jumpName == "\(testbed.sshUser)@\(bastion.address):22"
        }
        try await testbed.heal(bastion)
      } catch {
        try await testbed.heal(bastion)
        throw error
      }

      // A changed key is found in the handshake, which a machine busy with other lanes can take
      // longer than 2 s to reach: the usual bound here.
      behind.jump = jump(bastion, testbed)
      try await testbed.rekey(bastion)
      do {
        await #expect {
          _ = try await SSHSession.connect(to: behind)
        } throws: { error in
          guard case SSHError.jumpFailed(_, _, .hostKeyChanged) = error else { return false }
          return true
        }
        try await testbed.restoreKey(bastion)
      } catch {
        try await testbed.restoreKey(bastion)
        throw error
      }

      // The target's own key is checked too, through the tunnel.
      try await testbed.rekey(hidden)
      do {
        await #expect {
          _ = try await SSHSession.connect(to: behind)
        } throws: { error in
          guard case SSHError.hostKeyChanged(let name, _, _, _) = error else { return false }
          return name == hidden.name
        }
        try await testbed.restoreKey(hidden)
      } catch {
        try await testbed.restoreKey(hidden)
        throw error
      }
    }
  }

  @Test func cutLinkTimesOutInTheConnectPhase() async throws {
    try await Testbed.use { testbed in
      let host = try #require(testbed.hosts.first)
      try await testbed.cut(host)
      do {
        await #expect {
          _ = try await SSHSession.connect(to: target(host, testbed, timeout: .seconds(1)))
        } throws: { error in
          guard case SSHError.timedOut(let name, _, .connect, .seconds(1)) = error else { return false }
          return name == host.name
        }
        try await testbed.heal(host)
      } catch {
        try await testbed.heal(host)
        throw error
      }
    }
  }
}
