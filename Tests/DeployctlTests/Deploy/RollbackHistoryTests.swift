import Foundation
import Testing

/// `rollback` after earlier rollbacks: it goes back to what the host really ran before, not to
/// a release an earlier rollback already undid.
@Suite("Rollback history end to end", .enabled(if: Testbed.isAvailable))
struct RollbackHistoryTests {
  @Test("deploy v2, roll back, deploy v2 again, roll back: v1 both times")
  func rollbackTwiceReturnsToV1() async throws {
    try await Scenario.with { s in
      #expect(try await s.deployctl(["deploy", "dev", "--image", "v1"]).status == 0)
      for round in 1...2 {
        let up = try await s.deployctl(["deploy", "dev", "--image", "v2"])
        #expect(up.status == 0, "round \(round): \(up.stderr)")
        for host in s.hosts("dev") { #expect(try await s.version(on: host) == "v2") }
        let back = try await s.deployctl(["rollback", "dev"])
        #expect(back.status == 0, "round \(round): \(back.stderr)")
        for host in s.hosts("dev") {
          #expect(try await s.version(on: host) == "v1", "round \(round)")
        }
      }
      let nothing = try await s.deployctl(["rollback", "dev"])
      #expect(nothing.status == 2, "v1 was the first release: nothing before it")
    }
  }
}
