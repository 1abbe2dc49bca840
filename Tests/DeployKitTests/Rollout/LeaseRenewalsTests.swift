import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine

/// A commit releases the host's lock; a lease renewal that overlapped it used to write the lease
/// file again after the release, leaving a lock with no holder (seen in an end-to-end run).
@Suite struct LeaseRenewalsTests {
  @Test func stoppingWaitsForTheRenewalUnderWayAndEndsRenewalsThere() async throws {
    let renewals = LeaseRenewals()
    await renewals.hold(0)
    await renewals.hold(1)
    let events = Locked<[String]>([])
    let (gate, open) = AsyncStream<Void>.makeStream()
    let round = await renewals.start { i in
      Task {
        if i == 0 { for await _ in gate { break } }
        events.withLock { $0.append("renewed \(i)") }
        return true
      }
    }
    #expect(round.map(\.0) == [0, 1])
    let stopped = Task {
      await renewals.stop(0)
      events.withLock { $0.append("stopped 0") }
    }
    // The renewal on host 0 is held at the gate: stopping must wait for it.
    try await Task.sleep(for: .milliseconds(50))
    #expect(!events.current.contains("stopped 0"))
    open.yield()
    await stopped.value
    #expect(events.current.firstIndex(of: "renewed 0")! < events.current.firstIndex(of: "stopped 0")!)
    for (i, renewal) in round {
      _ = await renewal.value
      await renewals.ended(i)
    }
    // Host 0 is renewed no more; host 1 still is.
    let next = await renewals.start { _ in Task { true } }
    #expect(next.map(\.0) == [1])
  }
}
