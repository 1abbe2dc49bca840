import Foundation
import TestSupport
import Testing

/// The dev, staging and prod hosts `scripts/testbed up` made (README "Testbed"): real sshd,
/// dockerd and registry on this machine, and the nodes of a Docker Swarm (environment `swarm`).
/// `make test` brings them up and points `DEPLOYCTL_TESTBED` at their folder; this reads
/// `$DEPLOYCTL_TESTBED/env`.
///
/// Tests that need it are marked `.enabled(if: Testbed.isAvailable)` and do their work inside
/// `Testbed.use { testbed in ... }`, which hands each body a lane of its own: `make test` brings
/// up several whole testbeds (`scripts/testbed up --lanes N`, each with every host, its own
/// registry and inventories), so as many bodies run at once as there are lanes, and a fault (a
/// cut link, a changed host key, a stopped engine or registry) never hits a neighbour's deploy.
/// A testbed without lanes is one lane: its bodies run one at a time.
struct Testbed: Sendable {
  struct Host: Sendable, Hashable, CustomStringConvertible {
    let name: String
    let address: String
    let environment: String
    var description: String { "\(name) (\(address))" }
  }

  /// The folder `scripts/testbed up --dir` filled.
  let dir: String
  /// `scripts/testbed` itself, for the fault commands.
  let script: String
  /// `192.168.250.1:5000`: no authentication, trusted by every engine.
  let registry: String
  /// `192.168.250.1:5001`: same storage, htpasswd authentication (`docker login`).
  let authRegistry: String
  let authUser: String
  /// Holds the password for `authUser`; pass it on stdin, never on a command line.
  let authPasswordFile: String
  /// `192.168.250.1:5000/app`, pushed with `tags`.
  let image: String
  /// v1, v2, v3 (healthy, `/version` says the tag), broken (`/healthz` 404),
  /// crash (exits 3 at once), slow (healthy after about 5 s), slow15 (listens only after about 15 s).
  let tags: [String]
  let sshUser: String
  let identityFile: String
  let knownHosts: String
  /// `dev.yml`, `staging.yml`, `prod.yml`, `swarm.yml` (docs/configuration.md), pointing at these
  /// hosts (a swarm's inventory lists only its manager, with `engine: swarm`).
  let inventories: String
  /// `app.yml`: a plan for `image`.
  let playbooks: String
  let environments: [String]
  /// Every host, a swarm's nodes included (`hosts(in: "swarm")` gives them all).
  let hosts: [Host]
  /// The environments whose engines form a Docker Swarm (`TESTBED_SWARM`); empty for an env
  /// file written before swarms.
  let swarmEnvironments: [String]
  /// Manager host name per swarm environment.
  private let swarmManagers: [String: String]
  /// `192.168.250.1:5000/caddy:2`: the proxy's image (Caddy, built from Debian's package),
  /// `TESTBED_PROXY_IMAGE`; nil for an env file written before it.
  var proxyImage: String? = nil

  /// The swarm environments whose nodes share one host name, `ENV-node`
  /// (`TESTBED_SWARM_SAME_HOSTNAME`, space- or comma-separated, as `scripts/testbed` reads it).
  static let sameHostnameEnvironments: [String] =
    (ProcessInfo.processInfo.environment["TESTBED_SWARM_SAME_HOSTNAME"] ?? "")
    .split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)

  static var isAvailable: Bool {
    !(ProcessInfo.processInfo.environment["DEPLOYCTL_TESTBED"] ?? "").isEmpty
  }

  /// Runs `body` with a lane of the testbed that no other `use` body holds meanwhile, waiting
  /// (first come, first served) while every lane is busy. Do not nest calls: the inner one may
  /// wait for the outer one's lane forever.
  /// A test tagged `.long` is handed a lane before waiting tests without the tag.
  static func use<T: Sendable>(_ body: (Testbed) async throws -> T) async throws -> T {
    let lanes = try await pool.lanes()
    let asked = ContinuousClock.now
    let lane = await pool.acquire(first: Test.current?.tags.contains(.long) == true)
    let started = ContinuousClock.now
    do {
      let result = try await body(lanes[lane])
      await pool.release(lane, asked: asked, started: started)
      return result
    } catch {
      await pool.release(lane, asked: asked, started: started)
      throw error
    }
  }

  /// The testbed `DEPLOYCTL_TESTBED` names (with lanes: lane 1).
  static func load() throws -> Testbed {
    try loadLanes()[0]
  }

  /// Every lane of the testbed `DEPLOYCTL_TESTBED` names: `TESTBED_LANES` in its env lists the
  /// lanes' folders, each with an env of its own; a testbed without lanes is its only lane.
  static func loadLanes() throws -> [Testbed] {
    guard let dir = ProcessInfo.processInfo.environment["DEPLOYCTL_TESTBED"], !dir.isEmpty else {
      throw TestbedError(
        "DEPLOYCTL_TESTBED is not set: run `make test`, or `scripts/testbed up` and export it")
    }
    let top = try readEnv(dir)
    let lanes = (top["TESTBED_LANES"] ?? "").split(separator: " ").map(String.init)
    if lanes.isEmpty { return [try load(dir: dir, values: top)] }
    return try lanes.map { try load(dir: $0, values: readEnv($0)) }
  }

  private static func readEnv(_ dir: String) throws -> [String: String] {
    let path = dir + "/env"
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
      throw TestbedError("\(path): cannot read it; is the testbed up? (`scripts/testbed up --dir \(dir)`)")
    }
    return parseEnvFile(text)
  }

  private static func load(dir: String, values: [String: String]) throws -> Testbed {
    let path = dir + "/env"
    func value(_ key: String) throws -> String {
      guard let value = values[key] else { throw TestbedError("\(path): \(key) is missing") }
      return value
    }
    func words(_ key: String) throws -> [String] {
      try value(key).split(separator: " ").map(String.init)
    }
    var addresses: [String: String] = [:]
    for pair in try words("TESTBED_HOST_ADDRESSES") {
      let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2 else {
        throw TestbedError("\(path): TESTBED_HOST_ADDRESSES: '\(pair)' is not NAME=ADDRESS")
      }
      addresses[parts[0]] = parts[1]
    }
    var hosts: [Host] = []
    let environments = try words("TESTBED_ENVIRONMENTS")
    for environment in environments {
      for name in try words("TESTBED_ENV_\(environment)") {
        guard let address = addresses[name] else {
          throw TestbedError("\(path): no address for host \(name)")
        }
        hosts.append(Host(name: name, address: address, environment: environment))
      }
    }
    // Absent from env files written before swarms: then there is none.
    let swarmEnvironments = (values["TESTBED_SWARM"] ?? "").split(separator: " ").map(String.init)
    var swarmManagers: [String: String] = [:]
    for environment in swarmEnvironments {
      let name = try value("TESTBED_SWARM_MANAGER_\(environment)")
      guard hosts.contains(where: { $0.name == name && $0.environment == environment }) else {
        throw TestbedError(
          "\(path): the manager \(name) of swarm \(environment) is not a host of \(environment)")
      }
      swarmManagers[environment] = name
    }
    var testbed = Testbed(
      dir: try value("TESTBED_DIR"), script: try value("TESTBED_SCRIPT"),
      registry: try value("TESTBED_REGISTRY"), authRegistry: try value("TESTBED_AUTH_REGISTRY"),
      authUser: try value("TESTBED_AUTH_USER"), authPasswordFile: try value("TESTBED_AUTH_PASSWORD_FILE"),
      image: try value("TESTBED_IMAGE"), tags: try words("TESTBED_TAGS"),
      sshUser: try value("TESTBED_SSH_USER"), identityFile: try value("TESTBED_IDENTITY_FILE"),
      knownHosts: try value("TESTBED_KNOWN_HOSTS"), inventories: try value("TESTBED_INVENTORIES"),
      playbooks: try value("TESTBED_PLAYBOOKS"), environments: environments, hosts: hosts,
      swarmEnvironments: swarmEnvironments, swarmManagers: swarmManagers)
    testbed.proxyImage = values["TESTBED_PROXY_IMAGE"]
    return testbed
  }

  /// `KEY='value'` lines as `scripts/testbed` writes them (values hold no single quote).
  static func parseEnvFile(_ text: String) -> [String: String] {
    var values: [String: String] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
      guard let equals = line.firstIndex(of: "=") else { continue }
      var value = line[line.index(after: equals)...]
      if value.hasPrefix("'") && value.hasSuffix("'") && value.count >= 2 {
        value = value.dropFirst().dropLast()
      }
      values[String(line[..<equals])] = String(value)
    }
    return values
  }

  func host(_ name: String) throws -> Host {
    guard let host = hosts.first(where: { $0.name == name }) else {
      throw TestbedError("no host \(name) in the testbed at \(dir) (hosts: \(hosts.map(\.name)))")
    }
    return host
  }

  func hosts(in environment: String) -> [Host] {
    hosts.filter { $0.environment == environment }
  }

  /// The manager of swarm `environment` (its first host, the one its inventory lists); nil
  /// when `environment` is not a swarm.
  func manager(of environment: String) -> Host? {
    guard let name = swarmManagers[environment] else { return nil }
    return hosts.first { $0.name == name }
  }

  /// `image:tag`, e.g. `ref("v2")` is `192.168.250.1:5000/app:v2`.
  func ref(_ tag: String) -> String { "\(image):\(tag)" }

  // MARK: Commands on the hosts

  /// OpenSSH options for a host: the testbed's key, its known_hosts, strict host key checking.
  func sshOptions(connectTimeout: Int = 5) -> [String] {
    [
      "-F", "none", "-i", identityFile, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
      "-o", "UserKnownHostsFile=\(knownHosts)", "-o", "StrictHostKeyChecking=yes",
      "-o", "ConnectTimeout=\(connectTimeout)", "-o", "LogLevel=ERROR",
    ]
  }

  /// Runs `command` through the host's login shell over OpenSSH (for test assertions; the
  /// product uses libssh2). `command` reaches a shell as is: quote what you put in it.
  func ssh(
    _ host: Host, _ command: String, input: Data? = nil, connectTimeout: Int = 5
  ) async throws -> ProgramResult {
    try await Self.run(
      "/usr/bin/ssh", sshOptions(connectTimeout: connectTimeout) + ["\(sshUser)@\(host.address)", command],
      input: input)
  }

  /// Like `ssh`, but a non-zero exit status throws, naming the host and the command.
  @discardableResult
  func sshChecked(_ host: Host, _ command: String, input: Data? = nil) async throws -> String {
    let output = try await ssh(host, command, input: input)
    guard output.status == 0 else {
      throw TestbedError("on \(host): `\(command)` exited \(output.status): \(output.stderr)")
    }
    return output.stdout
  }

  // MARK: Faults (scripts/testbed)

  /// Takes the host's link down: connections time out, as to a host that is gone.
  func cut(_ host: Host) async throws { try await testbed("cut", host.name) }
  func heal(_ host: Host) async throws { try await testbed("heal", host.name) }
  /// Stops the host's sshd: connections are refused; open sessions stay.
  func stopSSHD(_ host: Host) async throws { try await testbed("stop-sshd", host.name) }
  func startSSHD(_ host: Host) async throws { try await testbed("start-sshd", host.name) }
  /// Stops the host's dockerd (its containers stop; `unless-stopped` ones return with it).
  func stopEngine(_ host: Host) async throws { try await testbed("stop-engine", host.name) }
  func startEngine(_ host: Host) async throws { try await testbed("start-engine", host.name) }
  /// Stops both registries.
  func stopRegistry() async throws { try await testbed("stop-registry") }
  func startRegistry() async throws { try await testbed("start-registry") }
  /// Makes the host's sshd present a host key that known_hosts does not list.
  func rekey(_ host: Host) async throws { try await testbed("rekey", host.name) }
  func restoreKey(_ host: Host) async throws { try await testbed("restore-key", host.name) }

  private func testbed(_ arguments: String...) async throws {
    let output = try await Self.run(script, arguments + ["--dir", dir])
    guard output.status == 0 else {
      throw TestbedError(
        "scripts/testbed \(arguments.joined(separator: " ")) exited \(output.status): \(output.stderr)")
    }
  }

  // MARK: Local processes

  /// Runs a program to its end without blocking a thread of the cooperative pool (TestSupport's
  /// `runCapturing`). Stopped after `timeout` seconds with status 124, as `timeout(1)` would,
  /// so a hung host cannot hang the test run.
  static func run(
    _ executable: String, _ arguments: [String], input: Data? = nil, timeout: Int = 120
  ) async throws -> ProgramResult {
    try await runCapturing(executable, arguments, input: input, timeout: .seconds(timeout))
  }

  private static let pool = LanePool()
}

extension Tag {
  /// An end-to-end test that holds its lane for half a minute or more (a lease that must run out,
  /// a cut host that must time out, a Swarm that must converge): `Testbed.use` hands it a lane
  /// before the others, so it does not start last and keep the whole run waiting for it.
  @Tag static var long: Self
}

struct TestbedError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// The lanes of the testbed, each held by one body at a time: a free lane at once (the
/// lowest-numbered), else the first waiter gets the next lane released.
private actor LanePool {
  private var loaded: [Testbed]?
  private var free: [Int] = []
  /// Waiting bodies in the order they get lanes: `.long` ones first, each kind first come,
  /// first served.
  private var waiters: [(first: Bool, resume: CheckedContinuation<Int, Never>)] = []

  func lanes() throws -> [Testbed] {
    if let loaded { return loaded }
    let lanes = try Testbed.loadLanes()
    loaded = lanes
    free = Array(lanes.indices)
    return lanes
  }

  func acquire(first: Bool) async -> Int {
    if !free.isEmpty { return free.removeFirst() }
    return await withCheckedContinuation { continuation in
      let place = first ? (waiters.firstIndex { !$0.first } ?? waiters.endIndex) : waiters.endIndex
      waiters.insert((first, continuation), at: place)
    }
  }

  /// Hands the lane to the first waiter, or back to the free ones; notes in
  /// `$DEPLOYCTL_TESTBED/lanes.log` which test held it and how long it waited and ran (where a
  /// test run's time goes).
  func release(_ lane: Int, asked: ContinuousClock.Instant, started: ContinuousClock.Instant) {
    note(lane: lane, waited: started - asked, ran: ContinuousClock.now - started)
    if waiters.isEmpty {
      free.append(lane)
      free.sort()
    } else {
      waiters.removeFirst().resume.resume(returning: lane)
    }
  }

  private func note(lane: Int, waited: Duration, ran: Duration) {
    guard let dir = ProcessInfo.processInfo.environment["DEPLOYCTL_TESTBED"], !dir.isEmpty else { return }
    let path = dir + "/lanes.log"
    if !FileManager.default.fileExists(atPath: path) {
      FileManager.default.createFile(atPath: path, contents: nil)
    }
    // A note that cannot be written is no test's failure: the log only helps find slow tests.
    guard let log = FileHandle(forWritingAtPath: path) else { return }
    let test = Test.current?.displayName ?? Test.current?.name ?? "?"
    let line = "lane \(lane + 1)\twaited \(seconds(waited))\tran \(seconds(ran))\t\(test)\n"
    log.seekToEndOfFile()
    log.write(Data(line.utf8))
    try? log.close()
  }

  private func seconds(_ duration: Duration) -> String {
    let (whole, attoseconds) = duration.components
    return "\(whole).\(attoseconds / 100_000_000_000_000_000) s"
  }
}
