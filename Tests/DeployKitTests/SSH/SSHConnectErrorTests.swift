import Foundation
import TestSupport
import Testing

@testable import DeployKit
@testable import DeployTransport

@Suite("SSH connection failures say what, where and which phase")
struct SSHConnectErrorTests {
  private func target(_ address: String, port: Int, timeout: Duration = .seconds(5)) -> SSHTarget {
    SSHTarget(
      name: "app1", address: address, port: port, user: "root", identity: .file("/nonexistent"),
      knownHostsFile: "/nonexistent/known_hosts", connectTimeout: timeout)
  }

  @Test func closedPortIsConnectionRefused() async throws {
    let port = try freeLoopbackPort()
    await #expect {
      _ = try await SSHSession.connect(to: target("127.0.0.1", port: port))
    } throws: { error in
      guard case SSHError.connectionRefused(let host, let endpoint) = error else { return false }
      return host == "app1" && endpoint == "127.0.0.1:\(port)"
        && "\(error)".hasPrefix("app1: connection refused")
    }
  }

  /// `.invalid` never resolves (RFC 6761): answered locally, no DNS query leaves the machine.
  @Test func invalidNameIsNotResolved() async throws {
    await #expect {
      _ = try await SSHSession.connect(to: target("no-such-host.invalid", port: 22))
    } throws: { error in
      guard case SSHError.nameNotResolved(let host, let address, _) = error else { return false }
      return host == "app1" && address == "no-such-host.invalid" && "\(error)".contains("cannot resolve")
    }
  }

  /// A malformed name (an empty label) fails inside the system resolver, also without a query.
  @Test func resolverFailureIsNotResolved() async throws {
    await #expect {
      _ = try await SSHSession.connect(to: target("bad..name", port: 22))
    } throws: { error in
      guard case SSHError.nameNotResolved(_, "bad..name", let reason) = error else { return false }
      return !reason.isEmpty
    }
  }

  @Test func silentServerTimesOutInTheHandshake() async throws {
    // Accepts TCP connections (the kernel does) but never speaks SSH.
    let (listener, port) = try Sockets.listenOnLoopback()
    defer { withExtendedLifetime(listener) {} }
    await #expect {
      _ = try await SSHSession.connect(to: target("127.0.0.1", port: port, timeout: .milliseconds(500)))
    } throws: { error in
      guard case SSHError.timedOut(let host, _, let phase, let after) = error else { return false }
      return host == "app1" && phase == .handshake && after == .milliseconds(500)
        && "\(error)".contains("timed out after 0.5s in the SSH handshake")
    }
  }

  @Test func somethingElseOnThePortFailsTheHandshake() async throws {
    let server = try await LocalHTTPServer.start(files: [:])
    defer { server.stop() }
    await #expect {
      _ = try await SSHSession.connect(to: target("127.0.0.1", port: server.port, timeout: .seconds(5)))
    } throws: { error in
      switch error {
      case SSHError.handshakeFailed(let host, _, _), SSHError.timedOut(let host, _, .handshake, _):
        return host == "app1"
      default:
        return false
      }
    }
  }
}
