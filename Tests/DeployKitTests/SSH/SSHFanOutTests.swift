import Foundation
import TestSupport
import Testing

@testable import DeployKit
@testable import DeployTransport

@Suite("Many hosts: fan-out, shared sessions, jump hosts, cancellation")
struct SSHFanOutTests {
  @Test func outcomesAreValuesInInputOrderAndAFailureCancelsNothing() async throws {
    let a = try await LocalSSHD.start()
    defer { a.stop() }
    let b = try await LocalSSHD.start()
    defer { b.stop() }
    let refused = SSHTarget(
      name: "down", address: "127.0.0.1", port: try freeLoopbackPort(), user: "root",
      identity: .file(a.clientKey),
      knownHostsFile: a.knownHosts)
    let targets = [a.target(name: "a"), refused, b.target(name: "b")]
    let connections = SSHConnections()
    let outcomes = await FanOut.run(targets, parallel: 2, name: \.name) { target in
      let session = try await connections.session(for: target)
      return try await session.exec("sleep 0.2; echo \(target.name)").stdout
    }
    await connections.closeAll()
    #expect(outcomes.map(\.host) == ["a", "down", "b"])
    #expect(outcomes[0].value == "a\n")
    #expect(outcomes[2].value == "b\n")
    let error = try #require(outcomes[1].error as? SSHError)
    #expect(error.host == "down")
    if case .connectionRefused = error {} else { Issue.record("expected connection refused, got \(error)") }
  }

  @Test func oneSessionPerHostIsReusedForEveryCommand() async throws {
    try await withSSHD { server in
      let connections = SSHConnections()
      let first = try await connections.session(for: server.target())
      let pid1 = try await first.exec("echo $PPID").stdout
      let second = try await connections.session(for: server.target())
      let pid2 = try await second.exec("echo $PPID").stdout
      #expect(first === second)
      #expect(pid1 == pid2)  // the same sshd session process served both commands
      await connections.closeAll()
      #expect(!(await first.isUsable))
    }
  }

  @Test func cancellationStopsRunningCommandsAndClosesSessions() async throws {
    try await withSSHD { server in
      let connections = SSHConnections()
      let started = LineLog()
      let run = Task {
        await FanOut.run(Array(0..<3), parallel: 3, name: { "h\($0)" }) { index in
          let session = try await connections.session(for: server.target(name: "h\(index)"))
          return try await session.exec("echo started; sleep 30") { started.append($0) }
        }
      }
      #expect(await eventually(timeout: .seconds(30)) { started.all.count == 3 })
      run.cancel()
      let outcomes = await run.value
      #expect(outcomes.allSatisfy { $0.error is CancellationError })
      await connections.closeAll()
      // The server sees every connection end.
      #expect(await eventually { server.connectionProcesses.isEmpty })
    }
  }

  @Test func jumpHostCarriesTheTargetSessionAndIsVerifiedToo() async throws {
    let jump = try await LocalSSHD.start()
    defer { jump.stop() }
    let target = try await LocalSSHD.start()
    defer { target.stop() }
    // One known_hosts for both (as in an inventory).
    let knownHosts = "\(target.directory)/both_known_hosts"
    try
      (String(contentsOfFile: jump.knownHosts, encoding: .utf8)
      + String(contentsOfFile: target.knownHosts, encoding: .utf8)).write(
        toFile: knownHosts, atomically: true, encoding: .utf8)
    // One key for both hosts.
    try String(contentsOfFile: "\(jump.clientKey).pub", encoding: .utf8).write(
      toFile: "\(target.directory)/authorized_keys", atomically: false, encoding: .utf8)

    var host = target.target(name: "behind", knownHosts: knownHosts, identity: .file(jump.clientKey))
    host.jump = SSHJump(
      address: "127.0.0.1", port: jump.port, user: "root", identity: .file(jump.clientKey),
      knownHostsFile: knownHosts)

    let session = try await SSHSession.connect(to: host)
    let result = try await session.exec("echo $SSH_CONNECTION")
    #expect(result.stdout.hasSuffix("127.0.0.1 \(target.port)\n"))
    #expect(try await session.exec("echo twice").stdout == "twice\n")
    // The session runs through a connection to the jump host, which ends with it.
    #expect(jump.connectionProcesses.count == 1)
    await session.close()
    #expect(await eventually { jump.connectionProcesses.isEmpty })

    // The jump host's key is checked like any other.
    var unknownJump = host
    unknownJump.jump?.knownHostsFile = target.knownHosts
    await #expect {
      _ = try await SSHSession.connect(to: unknownJump)
    } throws: { error in
      guard case SSHError.jumpFailed(let name, _, let underlying) = error,
        case .hostKeyUnknown = underlying
      else { return false }
      return name == "behind" && "\(error)".hasPrefix("behind: via jump host root@127.0.0.1:\(jump.port):")
    }

    // The jump host cannot reach the target's port.
    var unreachable = host
    unreachable.port = try freeLoopbackPort()
    await #expect {
      _ = try await SSHSession.connect(to: unreachable)
    } throws: { error in
      guard case SSHError.tunnelRefused(let name, _, let destination, _) = error else { return false }
      return name == "behind" && destination == "127.0.0.1:\(unreachable.port)"
    }
  }

  @Test func targetsBehindOneJumpHostShareItsConnection() async throws {
    let jump = try await LocalSSHD.start()
    defer { jump.stop() }
    let target = try await LocalSSHD.start()
    defer { target.stop() }
    let knownHosts = "\(target.directory)/both_known_hosts"
    try
      (String(contentsOfFile: jump.knownHosts, encoding: .utf8)
      + String(contentsOfFile: target.knownHosts, encoding: .utf8)).write(
        toFile: knownHosts, atomically: true, encoding: .utf8)
    try String(contentsOfFile: "\(jump.clientKey).pub", encoding: .utf8).write(
      toFile: "\(target.directory)/authorized_keys", atomically: false, encoding: .utf8)
    let jumpHost = SSHJump(
      address: "127.0.0.1", port: jump.port, user: "root", identity: .file(jump.clientKey),
      knownHostsFile: knownHosts)
    let targets = (1...4).map { index in
      var host = target.target(name: "t\(index)", knownHosts: knownHosts, identity: .file(jump.clientKey))
      host.jump = jumpHost
      return host
    }
    let connections = SSHConnections()
    let outcomes = await FanOut.run(targets, parallel: 4, name: \.name) { host in
      try await connections.session(for: host).exec("echo \(host.name)").stdout
    }
    #expect(outcomes.map(\.value) == ["t1\n", "t2\n", "t3\n", "t4\n"])
    // One connection to the jump host (one sshd child), four to the target.
    #expect(jump.connectionProcesses.count == 1)
    await connections.closeAll()
  }
}
