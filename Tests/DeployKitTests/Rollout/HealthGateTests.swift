import Foundation
import Testing

@testable import DeployEngine
@testable import DeployKit

/// The health gate's view of a container it just started, known only by the id `docker run`
/// printed (no inspect before the first probe).
@Suite struct HealthGateTests {
  @Test func aContainerJustStartedIsAliveUntilItRestartsOrIsReplaced() throws {
    var info = try #require(try ContainerInfo.parse(fixture("inspect-running-healthy.json")).first)
    info.restartCount = 0
    #expect(info.liveness(sinceStartedAs: info.id) == .alive)

    var restarted = info
    restarted.restartCount = 2
    restarted.exitCode = 3
    guard case .dead(let why) = restarted.liveness(sinceStartedAs: info.id), why.contains("restarted 2 time")
    else {
      Issue.record("a restart since docker run is death: \(restarted.liveness(sinceStartedAs: info.id))")
      return
    }

    var other = info
    other.id = String(repeating: "f", count: 64)
    guard case .dead(let replaced) = other.liveness(sinceStartedAs: info.id), replaced.contains("replaced")
    else {
      Issue.record("another container under the name is death: \(other.liveness(sinceStartedAs: info.id))")
      return
    }

    var exited = info
    exited.running = false
    exited.status = "exited"
    #expect(exited.liveness(sinceStartedAs: info.id) != .alive)
  }
}
