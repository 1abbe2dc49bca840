import Foundation
import TestSupport
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit
@testable import DeployTransport

/// Runs the host-state snippets with the real /bin/sh against a temp folder whose name is full
/// of shell metacharacters, as a remote sshd would run them under /var/lib/deployctl.
infix operator |> : AdditionPrecedence
private func |> <T>(value: T, test: (T) -> Bool) -> Bool { test(value) }

@Suite struct HostStateTests {
  struct Host {
    let dir: TemporaryDirectory
    let base: String
    let paths: HostPaths

    init(environment: String = "staging") throws {
      dir = try TemporaryDirectory()
      base = dir.path + "/it's a $(touch pwned) `dir`; *"
      try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
      paths = try HostPaths(app: "web", environment: environment, base: base)
    }

    @discardableResult
    func run(
      _ command: RemoteCommand, expectStatus: Int32 = 0,
      sourceLocation: Testing.SourceLocation = #_sourceLocation
    )
      async throws -> String
    {
      let result = try await LocalProcess.sh(command.line, in: dir.url)
      #expect(
        result.status == expectStatus, "\(command.line)\n\(result.stderr)", sourceLocation: sourceLocation)
      return result.stdout
    }

    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
    func noInjection() -> Bool { !exists(dir.path + "/pwned") }
  }

  func record(_ release: String, at seconds: TimeInterval, how: ReleaseOrigin = .deploy) throws
    -> ReleaseRecord
  {
    var spec = try fullSpec()
    spec.release = release
    return try ReleaseRecord(
      container: spec, createdAt: Date(timeIntervalSince1970: seconds), user: "alice", how: how,
      result: .deployed)
  }

  @Test func pathsStayInsideTheAppFolder() throws {
    let paths = try HostPaths(app: "web", environment: "prod")
    #expect(paths.appDirectory == "/var/lib/deployctl/web")
    #expect(try paths.releaseRecord("r1") == "/var/lib/deployctl/web/releases/prod/r1.json")
    #expect(try paths.envFile("r1") == "/var/lib/deployctl/web/secrets/prod/r1.env")
    #expect(paths.lockDirectory == "/var/lib/deployctl/web/locks/prod.lock")
    #expect(paths.auditLog == "/var/lib/deployctl/web/audit.log")
    for bad in ["..", "../etc", "a/b", "", ".hidden", "a b", "x;y"] {
      #expect(throws: DockerError.self) { try HostPaths(app: bad, environment: "prod") }
      #expect(throws: DockerError.self) { try HostPaths(app: "web", environment: bad) }
      #expect(throws: DockerError.self) { try paths.releaseRecord(bad) }
    }
  }

  @Test func releaseRecordsRoundTrip() async throws {
    let host = try Host()
    defer { host.dir.remove() }
    try await host.run(HostState.prepare(host.paths))
    let attributes = try FileManager.default.attributesOfItem(atPath: host.paths.secretsDirectory)
    #expect((attributes[.posixPermissions] as? Int) == 0o700)

    let first = try record("20261121-171530-3fa9", at: 1_795_281_330)
    let second = try record("20261121-172000-0001", at: 1_795_281_600, how: .promote(from: "dev"))
    let third = try record("20261121-173000-beef", at: 1_795_282_200, how: .rollback(of: first.id))
    for release in [first, second, third] { try await host.run(HostState.writeRecord(release, host.paths)) }
    try await host.run(HostState.setCurrent(second.id, host.paths))
    // A damaged record does not hide the others.
    try "{broken".write(toFile: host.paths.releasesDirectory + "/zzz.json", atomically: true, encoding: .utf8)

    let state = try await HostState.parseReleases(host.run(HostState.readReleases(host.paths)))
    #expect(state.current == second.id)
    #expect(state.records == [third, second, first])
    #expect(state.currentRecord == second)
    #expect(state.unreadable.count == 1)
    // No temp files left behind by the atomic writes.
    let files = try FileManager.default.contentsOfDirectory(atPath: host.paths.releasesDirectory).sorted()
    #expect(
      files == [
        "20261121-171530-3fa9.json", "20261121-172000-0001.json", "20261121-173000-beef.json", "current",
        "zzz.json",
      ])

    let json = try String(contentsOfFile: try host.paths.releaseRecord(second.id), encoding: .utf8)
    #expect(json.hasSuffix("}\n") && json.filter { $0 == "\n" }.count == 1)
    #expect(json.contains("\"how\":{\"from\":\"dev\",\"kind\":\"promote\"}"))
    #expect(json.contains("\"created_at\":\"2026-11-21T17:20:00.000Z\""))
    #expect(json.contains("\"image\":\"registry.example.com:5000/acme/web@\(digestA)\""))
    #expect(json.contains("\"tag\":\"v2\""))

    try await host.run(HostState.removeReleases([first.id, third.id], host.paths))
    let after = try await HostState.parseReleases(host.run(HostState.readReleases(host.paths)))
    #expect(after.records == [second])
    #expect(host.noInjection())
  }

  @Test func emptyHostHasNoReleases() async throws {
    let host = try Host()
    defer { host.dir.remove() }
    let state = try await HostState.parseReleases(host.run(HostState.readReleases(host.paths)))
    #expect(state == HostReleases(current: nil, records: [], unreadable: []))
    #expect(try await host.run(HostState.readAudit(host.paths, lines: 10)) == "")
  }

  @Test func recordsRefuseUnpinnedImages() throws {
    var spec = try fullSpec()
    spec.image = try ImageReference.parse("v2", defaultRepository: planRepo)
    #expect(throws: DockerError.self) {
      try ReleaseRecord(container: spec, createdAt: Date(), user: "alice", how: .deploy, result: .deployed)
    }
  }

  @Test func releaseIDsAreValidAndSortable() throws {
    let id = ReleaseRecord.makeID(at: Date(timeIntervalSince1970: 1_795_281_332))
    #expect(id.hasPrefix("20261121-171532-"))
    #expect(id.count == "20261121-171532-0000".count)
    _ = try HostPaths(app: "web", environment: "prod").releaseRecord(id)
  }

  @Test func auditLogAppendsJSONLines() async throws {
    let host = try Host()
    defer { host.dir.remove() }
    let image = try ImageReference.parse("registry.example.com/acme/web:v2@" + digestA)
    let entries = [
      AuditEntry(
        time: Date(timeIntervalSince1970: 1_795_281_332), user: "alice", origin: "laptop", command: .deploy,
        environment: "staging", release: "r1", image: image, result: .succeeded),
      AuditEntry(
        time: Date(timeIntervalSince1970: 1_795_281_400), user: "o'brien $(x)", origin: "ci-runner",
        command: .lockRelease, environment: "staging", release: nil, image: nil, result: .failed),
    ]
    for entry in entries { try await host.run(HostState.appendAudit(entry, host.paths)) }
    let log = try String(contentsOfFile: host.paths.auditLog, encoding: .utf8)
    #expect(log.split(separator: "\n").count == 2)
    #expect(log.hasPrefix("{\"command\":\"deploy\",\"digest\":\"\(digestA)\",\"environment\":\"staging\""))
    #expect(log.contains("\"image\":\"registry.example.com/acme/web@\(digestA)\""))
    #expect(AuditEntry.parseLines(try await host.run(HostState.readAudit(host.paths, lines: 10))) == entries)
    #expect(
      AuditEntry.parseLines(try await host.run(HostState.readAudit(host.paths, lines: 1))) == [entries[1]])
    #expect(host.noInjection())
  }

  @Test func lockLifecycle() async throws {
    let host = try Host(environment: "prod")
    defer { host.dir.remove() }
    let alice = LockHolder(
      user: "alice", host: "laptop", pid: 4242, command: "deploy prod --image 'v2'",
      startedAt: Date(timeIntervalSince1970: 1_795_281_332))
    let bob = LockHolder(user: "bob", host: "ci", pid: 7, command: "rollback prod")
    let ttl: Duration = .seconds(60)
    /// A fresh lease: at most 60 s left by the host's clock, and not yet expired.
    func heldFresh(_ attempt: HostLock.Attempt, by holder: LockHolder) -> Bool {
      if case .held(holder, let expiresIn?) = attempt { return (1...60).contains(expiresIn) }
      return false
    }

    #expect(try await HostLock.parseStatus(host.run(HostLock.status(host.paths))) == .free)
    #expect(
      try await HostLock.parseAttempt(host.run(HostLock.acquire(alice, host.paths, ttl: ttl))) == .acquired)
    #expect(
      try await HostLock.parseAttempt(host.run(HostLock.acquire(bob, host.paths, ttl: ttl))) |> {
        heldFresh($0, by: alice)
      })
    #expect(
      try await HostLock.parseAttempt(host.run(HostLock.acquire(alice, host.paths, ttl: ttl))) |> {
        heldFresh($0, by: alice)
      })
    if case .held(alice, let expiresIn?) = try await HostLock.parseStatus(
      host.run(HostLock.status(host.paths)))
    {
      #expect((1...60).contains(expiresIn))
    } else {
      Issue.record("the lock should be held by alice")
    }
    #expect(
      try await HostLock.parseRelease(host.run(HostLock.release(bob, host.paths))) == .heldByOther(alice))
    #expect(try await HostLock.parseRelease(host.run(HostLock.release(alice, host.paths))) == .released)
    #expect(!host.exists(host.paths.lockDirectory))
    #expect(try await HostLock.parseRelease(host.run(HostLock.release(alice, host.paths))) == .notLocked)

    // A lock left by a crash is broken only on purpose, and says whose it was.
    #expect(
      try await HostLock.parseAttempt(host.run(HostLock.acquire(bob, host.paths, ttl: ttl))) == .acquired)
    #expect(try await HostLock.parseRelease(host.run(HostLock.forceRelease(host.paths))) == .broken(bob))
    #expect(try await HostLock.parseStatus(host.run(HostLock.status(host.paths))) == .free)
    #expect(try await HostLock.parseRelease(host.run(HostLock.forceRelease(host.paths))) == .notLocked)

    // A lock folder without holder (crash between mkdir and write) is held by someone unknown.
    try FileManager.default.createDirectory(
      atPath: host.paths.lockDirectory, withIntermediateDirectories: true)
    #expect(
      try await HostLock.parseAttempt(host.run(HostLock.acquire(alice, host.paths, ttl: ttl))) |> { attempt in
        if case .held(nil, _) = attempt { return true }
        return false
      })
    #expect(try await HostLock.parseRelease(host.run(HostLock.forceRelease(host.paths))) == .broken(nil))
    #expect(alice.summary.contains("alice@laptop (pid 4242)"))
    #expect(host.noInjection())
  }

  @Test("a lease: renewed by its holder; once expired, taken over by the next run, which learns whose it was")
  func lockLease() async throws {
    let host = try Host(environment: "prod")
    defer { host.dir.remove() }
    let alice = LockHolder(user: "alice", host: "laptop", pid: 4242, command: "deploy prod --image v2")
    let bob = LockHolder(user: "bob", host: "ci", pid: 7, command: "deploy prod --image v3")
    #expect(
      try await HostLock.parseAttempt(host.run(HostLock.acquire(alice, host.paths, ttl: .seconds(30))))
        == .acquired)
    // Renewing moves the expiry; only the holder can.
    #expect(HostLock.parseRenewal(try await host.run(HostLock.renew(alice, host.paths, ttl: .seconds(90)))))
    #expect(!HostLock.parseRenewal(try await host.run(HostLock.renew(bob, host.paths, ttl: .seconds(90)))))
    if case .held(alice, let expiresIn?) = try await HostLock.parseStatus(
      host.run(HostLock.status(host.paths)))
    {
      #expect((31...90).contains(expiresIn), "renewed to 90 s, more than the 30 s it was taken with")
    } else {
      Issue.record("the lock should be held by alice")
    }
    // Alice stops renewing: her lease expired 40 s ago (its 90 s TTL began 130 s ago).
    let now = Int(Date().timeIntervalSince1970)
    try "\(now - 40) 90\n".write(toFile: host.paths.lockLeaseFile, atomically: true, encoding: .utf8)
    let attempt = try await HostLock.parseAttempt(
      host.run(HostLock.acquire(bob, host.paths, ttl: .seconds(30))))
    guard case .takenOver(let previous, let renewedAgo) = attempt else {
      Issue.record("bob should have taken the lock over, got \(attempt)")
      return
    }
    #expect(previous == alice)
    #expect(renewedAgo >= 129, "renewed 130 s before the takeover, by the host's clock")
    // Now bob's, with a fresh lease; alice can neither renew nor release it.
    #expect(!HostLock.parseRenewal(try await host.run(HostLock.renew(alice, host.paths, ttl: .seconds(30)))))
    #expect(
      try await HostLock.parseRelease(host.run(HostLock.release(alice, host.paths))) == .heldByOther(bob))
    #expect(try await HostLock.parseRelease(host.run(HostLock.release(bob, host.paths))) == .released)
    #expect(!host.exists(host.paths.lockDirectory))
    #expect(!host.exists(host.paths.lockDirectory + ".stale"))
  }

  @Test func lockFailureIsAnErrorNotHeld() async throws {
    let host = try Host()
    defer { host.dir.remove() }
    // A file where the locks folder should be: mkdir fails for a reason other than "exists".
    try FileManager.default.createDirectory(
      atPath: host.paths.appDirectory, withIntermediateDirectories: true)
    try "x".write(toFile: host.paths.locksDirectory, atomically: true, encoding: .utf8)
    let holder = LockHolder(user: "alice", host: "laptop", pid: 1, command: "deploy")
    let result = try await LocalProcess.sh(
      HostLock.acquire(holder, host.paths, ttl: .seconds(60)).line, in: host.dir.url)
    #expect(result.status != 0)
    #expect(!result.stdout.contains("acquired") && !result.stdout.contains("held"))
    #expect(result.stderr.contains("File exists") || result.stderr.contains("Not a directory"))
  }

  /// Many `sh` processes race for the lock at the same instant (they spin until a start file
  /// appears): in every round exactly one acquires it, and every other sees that one as holder.
  @Test func lockIsAtomicUnderContention() async throws {
    let host = try Host(environment: "prod")
    defer { host.dir.remove() }
    let contenders = 8
    for round in 0..<15 {
      let go = host.dir.path + "/go-\(round)"
      let holders = (0..<contenders).map {
        LockHolder(user: "user\($0)", host: "host", pid: Int32($0), command: "deploy round \(round)")
      }
      var programs: [RunningProgram] = []
      for holder in holders {
        let script =
          "i=0; while [ ! -e \(ShellQuote.quote(go)) ] && [ $i -lt 200000 ]; do i=$((i + 1)); done\n"
          + HostLock.acquire(holder, host.paths, ttl: .seconds(60)).line
        programs.append(try RunningProgram.start("/bin/sh", ["-c", script]))
      }
      _ = FileManager.default.createFile(atPath: go, contents: Data())
      var outcomes: [HostLock.Attempt] = []
      for program in programs {
        let result = await program.finish()
        #expect(result.status == 0)
        outcomes.append(try HostLock.parseAttempt(result.stdout))
      }
      let winners = outcomes.indices.filter { outcomes[$0] == .acquired }
      #expect(winners.count == 1, "round \(round): \(outcomes)")
      guard let winner = winners.first else { continue }
      for (index, outcome) in outcomes.enumerated() where index != winner {
        // The winner writes its holder file right after mkdir; a loser may look in between.
        guard case .held(let holder, _) = outcome else {
          Issue.record("round \(round): \(outcome)")
          continue
        }
        #expect(holder == holders[winner] || holder == nil, "round \(round): \(outcome)")
      }
      #expect(
        try await HostLock.parseRelease(host.run(HostLock.release(holders[winner], host.paths))) == .released)
    }
  }
}
