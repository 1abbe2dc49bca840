import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine

/// The machine's stages, driven by hand: each event in, the actions and the stage out.
@Suite struct RolloutMachineTests {
  typealias Machine = RolloutMachine

  static let bob = LockHolder(user: "bob", host: "ci", pid: 7, command: "deploy prod --image v1")

  /// A machine with every host prepared and the targets chosen.
  func chosen(_ hosts: Int, batch: BatchPolicy, maxFailures: Int = 0, autoRollback: Bool = true) -> Machine {
    var machine = Machine(
      hostCount: hosts, settings: .init(batch: batch, maxFailures: maxFailures, autoRollback: autoRollback))
    _ = machine.start()
    for i in 0..<hosts { _ = machine.handle(.prepared(host: i, .ready)) }
    _ = machine.handle(.chosen(refusal: nil, settled: [:]))
    return machine
  }

  /// Installs and checks `host` healthy; the actions after the check.
  func healthy(_ machine: inout Machine, _ host: Int) -> [Machine.Action] {
    _ = machine.handle(.installed(host: host, failure: nil))
    return machine.handle(.checked(host: host, failure: nil))
  }

  @Test("a rollout goes through its stages in order: prepare, choose, each batch, verify, commit")
  func stagesInOrder() {
    var machine = Machine(hostCount: 2, settings: .init(batch: .oneAtATime))
    #expect(machine.stage == .idle)
    #expect(machine.start() == [.prepare(host: 0, attempt: 0), .prepare(host: 1, attempt: 0)])
    #expect(machine.stage == .preparing)
    #expect(machine.handle(.prepared(host: 0, .ready)) == [])
    #expect(machine.handle(.prepared(host: 1, .ready)) == [.choose])
    #expect(machine.stage == .choosing)
    #expect(machine.handle(.chosen(refusal: nil, settled: [:])) == [.install(host: 0)])
    #expect(machine.stage == .batch(0))
    #expect(healthy(&machine, 0) == [.install(host: 1)])
    #expect(machine.stage == .batch(1))
    #expect(healthy(&machine, 1) == [.verify(hosts: [0, 1])])
    #expect(machine.stage == .verifying)
    #expect(machine.handle(.verified(failedOn: [])) == [.commit(host: 0), .commit(host: 1)])
    #expect(machine.stage == .committing)
    _ = machine.handle(.committed(host: 0, failure: nil))
    _ = machine.handle(.committed(host: 1, failure: nil))
    #expect(machine.isFinished)
    #expect(machine.verdict == .success)
    // Once committing, nothing starts again.
    #expect(machine.start() == [])
    #expect(machine.handle(.verified(failedOn: [])) == [])
  }

  @Test("a host that fails is restored with its typed failure; too many failures stop and undo")
  func failureStopsAndUndoes() {
    var machine = chosen(3, batch: BatchPolicy([.percent(100)]), maxFailures: 0)
    #expect(machine.stage == .batch(0))
    _ = healthy(&machine, 0)
    let unhealthy = HostFailure(.check, "h2: HTTP 500, expected 200")
    _ = machine.handle(.installed(host: 1, failure: nil))
    #expect(machine.handle(.checked(host: 1, failure: unhealthy)) == [.restore(host: 1, undoing: false)])
    #expect(machine.phases[1] == .restoring(.failed(unhealthy)))
    _ = healthy(&machine, 2)
    // The batch ends with the restore: over max_failures, the healthy hosts go back.
    let undo = machine.handle(.restored(host: 1, failure: nil))
    #expect(undo == [.restore(host: 0, undoing: true), .restore(host: 2, undoing: true)])
    #expect(machine.stage == .undoing)
    let reason = Machine.StopReason.failures(count: 1, maxFailures: 0)
    #expect(machine.stopped == reason)
    #expect(machine.phases[0] == .restoring(.undone(reason)))
    #expect(machine.handle(.restored(host: 0, failure: nil)) == [])
    #expect(
      machine.handle(.restored(host: 2, failure: nil)) == [
        .commit(host: 0), .commit(host: 1), .commit(host: 2),
      ])
    #expect(machine.stage == .committing)
    #expect(machine.result(of: 1).error == "h2: HTTP 500, expected 200")
    #expect(
      machine.result(of: 0).error == "rolled back: the rollout stopped: 1 host failed (max_failures: 0)")
    #expect(machine.verdict == .failed)
  }

  @Test("a restore that fails keeps both failures: why it went back and why that failed")
  func restoreFails() {
    var machine = chosen(1, batch: .oneAtATime)
    let install = HostFailure(.install, "docker run failed")
    #expect(machine.handle(.installed(host: 0, failure: install)) == [.restore(host: 0, undoing: false)])
    let restore = HostFailure(.restore, "the engine is not running")
    #expect(machine.handle(.restored(host: 0, failure: restore)) == [.commit(host: 0)])
    #expect(machine.phases[0] == .restoreFailed(.failed(install), restore))
    #expect(
      machine.result(of: 0).error == "docker run failed\nthen restoring failed: the engine is not running")
    #expect(machine.verdict == .needsAttention)
  }

  @Test("a signal while preparing: every host still reports, then all commit and none starts")
  func interruptedWhilePreparing() {
    var machine = Machine(hostCount: 2, settings: .init(batch: .oneAtATime))
    _ = machine.start()
    #expect(machine.handle(.interrupted("SIGINT")) == [])
    #expect(machine.stage == .preparing)
    _ = machine.handle(.prepared(host: 0, .ready))
    #expect(machine.handle(.prepared(host: 1, .ready)) == [.commit(host: 0), .commit(host: 1)])
    #expect(machine.stopped == .interrupted(signal: "SIGINT"))
    #expect(machine.result(of: 1).result == .skipped)
    #expect(machine.result(of: 1).error == "not started: interrupted by SIGINT")
  }

  @Test("a signal in a batch: the step under way finishes, the batch's waiting hosts never start")
  func interruptedInABatch() {
    var settings = Machine.Settings(batch: BatchPolicy([.percent(100)]))
    settings.parallel = 1
    var machine = Machine(hostCount: 3, settings: settings)
    _ = machine.start()
    for i in 0..<3 { _ = machine.handle(.prepared(host: i, .ready)) }
    #expect(machine.handle(.chosen(refusal: nil, settled: [:])) == [.install(host: 0)])
    #expect(machine.handle(.interrupted("SIGTERM")) == [])
    #expect(machine.phases[1] == .skipped(.interrupted(signal: "SIGTERM")))
    _ = machine.handle(.installed(host: 0, failure: nil))
    // The host in flight ends healthy, then goes back with the rest.
    #expect(machine.handle(.checked(host: 0, failure: nil)) == [.restore(host: 0, undoing: true)])
    #expect(machine.stage == .undoing)
    // A second signal while undoing starts nothing and does not commit early.
    #expect(machine.handle(.interrupted("SIGINT")) == [])
    #expect(
      machine.handle(.restored(host: 0, failure: nil)) == [
        .commit(host: 0), .commit(host: 1), .commit(host: 2),
      ])
    #expect(machine.result(of: 2).error == "not started: interrupted by SIGTERM")
    #expect(machine.verdict == .failed)
  }

  @Test("a later batch never starts after a stop: its hosts are skipped as stopped")
  func laterBatchSkipped() {
    var machine = chosen(2, batch: .oneAtATime, autoRollback: false)
    _ = machine.handle(.installed(host: 0, failure: HostFailure(.install, "no space left")))
    #expect(machine.handle(.restored(host: 0, failure: nil)) == [.commit(host: 0), .commit(host: 1)])
    #expect(machine.phases[1] == .skipped(.stopped))
    #expect(machine.result(of: 1).error == "not started: the rollout stopped")
  }

  @Test("another run's lock on the first host: refused with every holder, as typed values")
  func lockedByAnother() {
    var machine = Machine(hostCount: 2, settings: .init(batch: .oneAtATime))
    _ = machine.start()
    let held = HeldLock(holder: Self.bob, host: "h1", expiresIn: 41)
    _ = machine.handle(.prepared(host: 0, .locked(held)))
    #expect(machine.handle(.prepared(host: 1, .ready)) == [.commit(host: 1)])
    #expect(machine.refusal == .locked([held]))
    #expect(machine.verdict == .locked)
    #expect(held.description.hasSuffix("(lock on h1; its lease expires in 41s unless renewed)"))
    #expect(held.ignoringLease == HeldLock(holder: Self.bob, host: "h1"))
    _ = machine.handle(.committed(host: 1, failure: nil))
    #expect(machine.isFinished)
  }

  @Test("another run's lock on a later host, ours on the first: asked again, attempt by attempt")
  func lockRetried() {
    var machine = Machine(hostCount: 2, settings: .init(batch: .oneAtATime, lockRetries: 1))
    _ = machine.start()
    let held = HeldLock(holder: nil, host: "h2")
    _ = machine.handle(.prepared(host: 0, .ready))
    #expect(machine.handle(.prepared(host: 1, .locked(held))) == [.prepare(host: 1, attempt: 1)])
    #expect(machine.stage == .preparing)
    // Out of retries: refused.
    #expect(machine.handle(.prepared(host: 1, .locked(held))) == [.commit(host: 0)])
    #expect(machine.refusal == .locked([held]))
    #expect(held.description == "an unknown holder (no holder file) (lock on h2)")
  }

  @Test("failures before any change over max_failures: nothing starts, the reason says so")
  func failedBeforeChange() {
    var machine = Machine(hostCount: 2, settings: .init(batch: .oneAtATime))
    _ = machine.start()
    _ = machine.handle(.prepared(host: 0, .failed(.unreachable, HostFailure(.prepare, "connection refused"))))
    #expect(machine.handle(.prepared(host: 1, .ready)) == [.commit(host: 1)])
    #expect(machine.stopped == .failedBeforeChange(count: 1, maxFailures: 0))
    #expect(machine.result(of: 0) == (.unreachable, "connection refused"))
    #expect(
      machine.result(of: 1).error
        == "not started: 1 host failed before anything changed (max_failures: 0); nothing was changed")
  }

  @Test("a refusal at choose: nothing installs, every prepared host commits")
  func refusedAtChoose() {
    var machine = Machine(hostCount: 1, settings: .init(batch: .oneAtATime))
    _ = machine.start()
    _ = machine.handle(.prepared(host: 0, .ready))
    #expect(machine.handle(.chosen(refusal: "no earlier release", settled: [:])) == [.commit(host: 0)])
    #expect(machine.refusal == .refused("no earlier release"))
    #expect(machine.verdict == .refused)
  }

  @Test("a commit that fails is kept as the host's typed failure")
  func commitFails() {
    var machine = chosen(1, batch: .oneAtATime)
    _ = healthy(&machine, 0)
    _ = machine.handle(.verified(failedOn: []))
    let failure = HostFailure(.commit, "disk full")
    _ = machine.handle(.committed(host: 0, failure: failure))
    #expect(machine.commitFailures == [0: failure])
    #expect(machine.isFinished)
  }
}
