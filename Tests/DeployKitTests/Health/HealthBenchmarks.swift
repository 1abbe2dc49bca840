import Foundation
import TestSupport
import Testing

@testable import DeployEngine
@testable import DeployKit

/// Figures, not assertions: `DEPLOYCTL_BENCH=1 swift test --filter HealthBenchmarks`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["DEPLOYCTL_BENCH"] != nil))
struct HealthBenchmarks {
  @Test func probeFigures() async throws {
    try await withHTTPServer { server in
      let probe = try HTTPProbe(url: server.url("/healthz"))
      let clock = ContinuousClock()
      var sequential: [Duration] = []
      for _ in 0..<100 {
        let start = clock.now
        _ = try await probe.run()
        sequential.append(clock.now - start)
      }
      sequential.sort()
      print(
        "one probe, loopback busybox httpd: median \(sequential[50]), p90 \(sequential[90]), max \(sequential[99])"
      )

      for count in [50, 200] {
        let start = clock.now
        let reasons = try await withThrowingTaskGroup(of: String.self) { group in
          for _ in 0..<count { group.addTask { try await probe.run().reason.prefix(20).description } }
          return try await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
        }
        print("\(count) concurrent probes of busybox httpd: \(reasons) in \(clock.now - start)")
      }

      let silent = try LoopbackSocket(listening: true)
      let hanging = try HTTPProbe(url: silent.url, timeout: .seconds(1))
      let start = clock.now
      let timedOut = try await withThrowingTaskGroup(of: Bool.self) { group in
        for _ in 0..<200 { group.addTask { try await hanging.run().failure != nil } }
        return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
      }
      print(
        "200 concurrent probes of a silent server, 1 s timeout each: \(timedOut) failed in \(clock.now - start)"
      )

      let check = try HealthCheck(policy: HealthPolicy(), http: probe)
      let report = try await check.run()
      print("health check of a ready app (default policy): healthy=\(report.healthy) in \(report.duration)")

      let starts = Starts()
      let failing = try HealthCheck(
        policy: HealthPolicy(retries: 8, startPeriod: .zero),
        http: HTTPProbe(url: server.url("/cgi-bin/fail")),
        onAttempt: { starts.add($0.elapsed) })
      let failed = try await failing.run()
      print(
        "failing app, default interval, retries 8: unhealthy after \(failed.duration); probes started at \(starts.all)"
      )
    }
  }
}

extension HealthBenchmarks {
  /// busybox httpd listens with a backlog of 9, so a burst of connections to it waits for SYN
  /// retransmits (1 s); point this at a server with a deep backlog to measure the probe loop.
  @Test func concurrentProbesOfAnotherServer() async throws {
    guard let url = ProcessInfo.processInfo.environment["DEPLOYCTL_BENCH_URL"] else { return }
    let probe = try HTTPProbe(url: url)
    let clock = ContinuousClock()
    for count in [50, 200, 1000] {
      let start = clock.now
      let reasons = try await withThrowingTaskGroup(of: String.self) { group in
        for _ in 0..<count { group.addTask { try await probe.run().reason.prefix(20).description } }
        return try await group.reduce(into: [String: Int]()) { $0[$1, default: 0] += 1 }
      }
      print("\(count) concurrent probes of \(url): \(reasons) in \(clock.now - start)")
    }
  }
}

private final class Starts: @unchecked Sendable {
  private let lock = NSLock()
  private var values: [String] = []
  func add(_ elapsed: Duration) {
    lock.withLock {
      values.append(
        "\(Int((Double(elapsed.components.attoseconds) / 1e15).rounded()) + Int(elapsed.components.seconds) * 1000) ms"
      )
    }
  }
  var all: [String] { lock.withLock { values } }
}
