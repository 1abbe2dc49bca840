import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine

/// The release command's stage in `RolloutMachine`: once, on the first host to change, before
/// any install; a failure or a stop ends the run with nothing changed (exit 1).
@Suite struct ReleaseCommandMachineTests {
  typealias Machine = RolloutMachine

  func prepared(_ hosts: Int, settled: [Int: HostResult] = [:]) -> (Machine, [Machine.Action]) {
    var settings = Machine.Settings(batch: .oneAtATime)
    settings.releaseCommand = true
    var machine = Machine(hostCount: hosts, settings: settings)
    _ = machine.start()
    for i in 0..<hosts { _ = machine.handle(.prepared(host: i, .ready)) }
    let actions = machine.handle(.chosen(refusal: nil, settled: settled))
    return (machine, actions)
  }

  @Test("it runs once, on the first host that changes, then the batches start")
  func runsBeforeTheFirstBatch() {
    var (machine, actions) = prepared(3, settled: [0: .unchanged])
    #expect(actions == [.release(host: 1)])
    #expect(machine.stage == .releasing)
    #expect(machine.handle(.released(failure: nil)) == [.install(host: 1)])
    #expect(machine.stage == .batch(0))
    // Heard only while releasing.
    #expect(machine.handle(.released(failure: nil)) == [])
  }

  @Test("a failure stops the run before any install: every host commits, nothing moved, exit 1")
  func failureChangesNothing() {
    var (machine, _) = prepared(2)
    #expect(machine.handle(.released(failure: "exited 7")) == [.commit(host: 0), .commit(host: 1)])
    #expect(machine.moved.isEmpty)
    #expect(machine.stopped == .releaseCommandFailed("exited 7"))
    #expect(machine.result(of: 0).result == .skipped)
    _ = machine.handle(.committed(host: 0, failure: nil))
    _ = machine.handle(.committed(host: 1, failure: nil))
    #expect(machine.isFinished)
    #expect(machine.verdict == .failed)
  }

  @Test("a stop while it runs ends the run when it has ended, with nothing changed")
  func interruptedWhileItRuns() {
    var (machine, _) = prepared(2)
    #expect(machine.handle(.interrupted("SIGINT")) == [])
    #expect(machine.handle(.released(failure: "interrupted")) == [.commit(host: 0), .commit(host: 1)])
    #expect(machine.stopped == .interrupted(signal: "SIGINT"))
    #expect(machine.moved.isEmpty)
  }

  @Test("without one, or in a dry run, or when every host already runs the release: not run")
  func notRun() {
    var plain = Machine(hostCount: 1, settings: .init(batch: .oneAtATime))
    _ = plain.start()
    _ = plain.handle(.prepared(host: 0, .ready))
    #expect(plain.handle(.chosen(refusal: nil, settled: [:])) == [.install(host: 0)])
    var settings = Machine.Settings(batch: .oneAtATime, dryRun: true)
    settings.releaseCommand = true
    var dry = Machine(hostCount: 1, settings: settings)
    _ = dry.start()
    _ = dry.handle(.prepared(host: 0, .ready))
    #expect(dry.handle(.chosen(refusal: nil, settled: [:])) == [.commit(host: 0)])
    let (_, actions) = prepared(1, settled: [0: .unchanged])
    #expect(actions == [.commit(host: 0)])
  }
}
