import DeployConfig
import DeployTransport
import Foundation

/// A host of a rollout with the Docker CLI: builds each step's `RemoteScript` and reads its
/// answer; the host's `RemoteHost` carries them (one shell per host for the whole command, one
/// SSH exec request, replaced once if the connection is lost). A rollout with no trouble sends
/// three steps: prepare (lock, state, pull), install (pull by digest, env file, replace the
/// container), commit (record, audit, unlock); the health check goes through a port forward on
/// the same connection.
public final class DockerHost: RolloutHost {
  public let name: String
  let plan: ResolvedPlan
  let paths: HostPaths
  let remote: RemoteHost
  let progress: ProgressLog
  let stop: StopRequest
  /// The plan's `registry:` credentials, for every pull.
  let registry: RegistryLogin?
  /// The id `docker run` printed for the container `install` started (the health check starts
  /// from it, without asking Docker first).
  let startedID = Locked<String?>(nil)
  /// With `proxy:`: the routes and the app's containers as prepare read them.
  let proxyState = Locked(ProxyReading())
  /// With `proxy:`: what this run's blue-green change has done so far.
  let blueGreen = Locked<BlueGreen?>(nil)

  /// A role after the first of a host with `roles:` (`RolesHost`): the first role takes the
  /// lock, pulls and writes the records; this one reads and changes its own container only.
  var secondary: Bool {
    get { isSecondary.current }
    set { isSecondary.withLock { $0 = newValue } }
  }
  private let isSecondary = Locked(false)

  /// With `proxy:`: changes the app's route on the host's proxy.
  let router: ProxyRouter

  struct ProxyReading: Sendable {
    var containers: [ContainerSummary] = []
    /// Whether `deployctl-proxy` exists on the host.
    var proxyExists = false
    /// Without `proxy:`: the app still has a route on the host's proxy (it moved back to its own
    /// ports).
    var hadRoute = false
  }

  public convenience init(
    plan: ResolvedPlan, connections: SSHConnections, progress: ProgressLog, stop: StopRequest,
    registry: RegistryLogin? = nil
  ) throws {
    try self.init(
      plan: plan, transport: SSHTransport(target: plan.host.sshTarget, connections: connections),
      progress: progress, stop: stop, registry: registry)
  }

  /// `transport`: how the host is reached (tests give canned answers).
  public init(
    plan: ResolvedPlan, transport: any HostTransport, progress: ProgressLog, stop: StopRequest,
    registry: RegistryLogin? = nil
  ) throws {
    self.registry = registry
    name = plan.host.name
    self.plan = plan
    paths = try HostPaths(app: plan.app, environment: plan.environment)
    remote = RemoteHost(name: plan.host.name, transport: transport, progress: progress)
    router = ProxyRouter(remote: remote, app: plan.app, environment: plan.environment)
    self.progress = progress
    self.stop = stop
  }

  public var steps: [StepTiming] { remote.steps }

  /// Closes the host's shell and waits for it.
  public func close() async { await remote.close() }

  // MARK: RolloutHost

  public func prepare(_ request: PrepareRequest) async -> PrepareResult {
    await prepare(request, observe: DockerCommand.inspectContainer(plan.container.name)) { section in
      try ContainerInfo.parseInspect(section)
    }
  }

  /// `prepare`, reading what runs with `observe` (a container here, a Swarm service for
  /// `SwarmHost`) and handing its output to `read`.
  func prepare(
    _ request: PrepareRequest, observe: RemoteCommand,
    read: (RemoteScriptOutput.Section?) throws -> ContainerInfo?
  ) async -> PrepareResult {
    let script = prepareScript(request, observe: observe)
    do {
      let output = try await remote.run(
        script.step, script.script, timeout: .seconds(900), quiet: request.attempt > 0)
      switch try HostLock.parseAttempt(output[script.lock]?.output ?? "") {
      case .acquired: break
      case .takenOver(let previous, let renewedAgo):
        try await recordTakeover(previous, renewedAgo: renewedAgo, request)
      case .held(let other, let expiresIn):
        return PrepareResult(outcome: .locked(HeldLock(holder: other, host: name, expiresIn: expiresIn)))
      }
      let releases = try HostState.parseReleases(output[script.releases]?.output ?? "")
      for problem in releases.unreadable {
        await progress.host(name, "read state", .note("a release record could not be read: \(problem)"))
      }
      if let route = script.route, output[route]?.succeeded == true {
        proxyState.withLock { $0.hadRoute = true }
      }
      if let proxied = script.proxied {
        try await readProxy(output[proxied.routes], output[proxied.containers], proxy: output[proxied.proxy])
      }
      let container = try read(output[script.observed])
      let snapshot = HostSnapshot(releases: releases, container: container)
      var pulled: ImageDigest?
      if let image = request.pull, let pull = script.pull {
        // The last line is `docker image inspect`'s; a registry may print warnings before it.
        pulled = try DockerOutput.repoDigest(output[pull]?.lastLine ?? "", repository: image.repository)
      }
      return PrepareResult(outcome: .ready, snapshot: snapshot, pulled: pulled)
    } catch {
      let unreachable = RemoteHost.isUnreachable(error)
      return PrepareResult(
        outcome: .failed(unreachable ? .unreachable : .failed, HostFailure(.prepare, error)))
    }
  }

  /// Prepare's script and the sections its answer is read from.
  struct PrepareScript {
    var script = RemoteScript()
    var step: String
    var lock: RemoteScript.Section
    var releases: RemoteScript.Section
    var observed: RemoteScript.Section
    var pull: RemoteScript.Section?
    /// With `proxy:`.
    var proxied: ProxyReadings?
    /// Without `proxy:`: whether the app has a route on the host's proxy.
    var route: RemoteScript.Section?
  }

  func prepareScript(_ request: PrepareRequest, observe: RemoteCommand) -> PrepareScript {
    var script = RemoteScript()
    script.section("dirs", HostState.prepare(paths))
    // A secondary role's lock is the first role's: only "acquired" is printed.
    let lock = script.section(
      "lock",
      secondary
        ? RemoteCommand(["echo", "acquired"]) : HostLock.acquire(request.holder, paths, ttl: request.ttl))
    // Another run holds the lock: nothing more to do here.
    script.add(.if(HostLock.isHeld(by: request.holder, paths).negated, then: .exit(0)))
    let releases = script.section("releases", HostState.readReleases(paths))
    let observed = script.section("container", observe, failure: .isAnswer)
    let proxied = plan.proxy == nil ? nil : proxyReadings(into: &script)
    let route =
      plan.proxy != nil
      ? nil
      : script.section(
        "proxy-route",
        RemoteCommand(["test", "-f", ProxyPaths().routeFile("\(plan.app)@\(plan.environment)")]),
        failure: .isAnswer)
    if request.pull != nil, let network = plan.container.options.network {
      // Checked before anything changes: a missing network fails the host with its old
      // container still serving.
      script.section("network", DockerCommand.requireNetworks([network]))
    }
    let pull = request.pull.map { image in
      script.section(
        "pull",
        DockerScripts.pull(image, login: registry, folder: paths.appDirectory).and(
          DockerCommand.imageRepoDigests(image)))
    }
    return PrepareScript(
      script: script, step: request.pull == nil ? "lock, read state" : "lock, read state, pull", lock: lock,
      releases: releases, observed: observed, pull: pull, proxied: proxied, route: route)
  }

  /// Says who held the lock before and since when it stopped renewing, and writes the takeover to
  /// the audit log at once (a run that dies later still leaves it on record).
  private func recordTakeover(_ previous: LockHolder?, renewedAgo: Int, _ request: PrepareRequest)
    async throws
  {
    let who = previous?.summary ?? "an unknown holder"
    await progress.host(
      name, "lock", .note("took over the lock of \(who): it stopped renewing its lease \(renewedAgo)s ago"))
    var entry = AuditEntry(
      time: Date(), user: request.holder.user, origin: request.holder.host, command: .lockTakeover,
      environment: plan.environment, release: nil, image: nil, result: .succeeded, run: request.run)
    entry.holder = who
    entry.stale = renewedAgo
    var script = RemoteScript()
    script.section("audit", HostState.appendAudit(entry, paths))
    _ = try await remote.run("audit", script, timeout: .seconds(30), quiet: true)
  }

  /// On an exec channel of its own: the shell may be busy with a long step (a pull).
  public func renew(_ holder: LockHolder, ttl: Duration) async -> Bool {
    do {
      let result = try await remote.exec(HostLock.renew(holder, paths, ttl: ttl), timeout: .seconds(20))
      return HostLock.parseRenewal(result.stdout)
    } catch {
      return true  // unknown: the lease may still hold; the next renewal tries again
    }
  }

  public func install(_ plan: InstallPlan) async throws {
    if let proxy = self.plan.proxy { return try await installBehindProxy(plan, proxy) }
    let (script, run) = try installScript(plan)
    let output = try await remote.run("replace container", script, timeout: .seconds(900))
    startedID.withLock { $0 = Self.containerID(output[run]) }
  }

  /// Install's script, and the section whose last line is the new container's id.
  func installScript(_ plan: InstallPlan) throws -> (RemoteScript, run: RemoteScript.Section) {
    let spec = plan.release.container
    var script = RemoteScript()
    if let envFile = plan.envFile, let path = spec.envFile {
      script.section("env-file", HostState.writePrivate(envFile, to: path, in: paths.secretsDirectory))
    }
    // By digest: a no-op when prepare pulled it or a kept release still has it.
    script.section(
      "pull",
      DockerCommand.imageID(spec.image.pinned ?? spec.image.description).silent.or(
        DockerScripts.pull(spec.image, login: registry, folder: paths.appDirectory)))
    let startFirst = self.plan.rollout.order == .startFirst && plan.replacing != nil
    var run: RemoteScript.Section?
    if startFirst {
      // `order: start-first` (a plan with no host port): the new container starts under a
      // temporary name, then the old one stops and the new one takes its name.
      var next = spec
      next.name = DockerScripts.nextName(spec.name)
      run = script.section(
        "run", RemoteCommand(["docker", "rm", "-f", next.name]).silent.then(try DockerCommand.run(next)))
    }
    if let old = plan.replacing, !old.isRelease(of: spec) {
      // A container deployctl did not start (the one a hand-written step ran): kept, stopped and
      // renamed, so a failed first deploy can bring it back.
      script.section("stop", DockerScripts.park(old.name, timeout: spec.stopTimeoutSeconds))
    } else if plan.replacing != nil {
      script.section(
        "stop", DockerScripts.stopAndRemove(spec.name, timeout: plan.previous?.container.stopTimeoutSeconds))
    }
    if startFirst {
      script.section("rename", DockerCommand.rename(DockerScripts.nextName(spec.name), to: spec.name))
    }
    let started = try run ?? script.section("run", DockerCommand.run(spec))
    return (script, started)
  }

  /// The id `docker run` printed as its last line, if it is one.
  static func containerID(_ section: RemoteScriptOutput.Section?) -> String? {
    let id = section?.lastLine ?? ""
    return id.count == 64 && id.allSatisfy(\.isHexDigit) ? id : nil
  }

  public func check(_ plan: InstallPlan) async throws {
    if let proxy = self.plan.proxy { return try await checkBehindProxy(plan, proxy) }
    try await remote.step("health") {
      let report = try await gate(plan.release.container).check(stop: stop)
      guard report.healthy else {
        let logs = await logTail(plan.release.container.name)
        throw RolloutError.unhealthy(host: name, reason: report.reason, details: report.resultLines + logs)
      }
    }
    if proxyState.current.hadRoute { await removeLeftoverRoute() }
  }

  public func restore(_ plan: InstallPlan) async throws {
    if let proxy = self.plan.proxy { return try await restoreBehindProxy(plan, proxy) }
    let spec = plan.release.container
    var script = RemoteScript()
    script.section("stop", DockerScripts.stopAndRemove(spec.name, timeout: spec.stopTimeoutSeconds))
    let run = try plan.previous.map { previous in
      try script.section("run", DockerCommand.run(previous.container))
    }
    if plan.previous == nil { script.section("unpark", DockerScripts.unpark(spec.name)) }
    let step = "restore \(plan.previous?.id ?? "(no previous release)")"
    let output = try await remote.run(step, script)
    guard let previous = plan.previous, let run else { return }
    startedID.withLock { $0 = Self.containerID(output[run]) }
    try await remote.step("health (restored)") {
      let report = try await gate(previous.container).check(stop: StopRequest())
      guard report.healthy else {
        throw RolloutError.unhealthy(
          host: name, reason: "restored release \(previous.id) is not healthy either: \(report.reason)",
          details: report.resultLines)
      }
    }
  }

  public func commit(_ commit: HostCommit) async throws {
    try await self.commit(commit, also: [])
  }

  /// `commit`, with `also` (named parts, e.g. a Swarm's secrets to forget) run before the unlock.
  func commit(_ commit: HostCommit, also: [(String, RemoteCommand)]) async throws {
    _ = try await remote.run(
      "record, unlock", try commitScript(commit, also: also), timeout: .seconds(60), quiet: true)
  }

  /// Commit's script: each part runs whatever the one before did (the lock must go in any case);
  /// forgetting old releases and `also` do not fail the step.
  func commitScript(_ commit: HostCommit, also: [(String, RemoteCommand)]) throws -> RemoteScript {
    var script = RemoteScript()
    for (n, record) in commit.records.enumerated() {
      script.section("record\(n)", try HostState.writeRecord(record, paths), failure: .fails)
    }
    switch commit.current {
    case .keep: break
    case .set(let id): script.section("current", try HostState.setCurrent(id, paths), failure: .fails)
    case .remove:
      script.section("current", RemoteCommand(["rm", "-f", paths.currentReleaseFile]), failure: .fails)
    }
    if let audit = commit.audit {
      script.section("audit", HostState.appendAudit(audit, paths), failure: .fails)
    }
    if !commit.forget.isEmpty {
      script.section(
        "forget", try HostState.removeReleases(commit.forget.map(\.id), paths), failure: .isAnswer)
      // Behind the proxy, a release's container is kept stopped for a quick rollback; it goes
      // with its record (never its volumes). With roles, every role's: any of them may be behind
      // the proxy (a role that is not has no such container, and `docker rm` says so silently).
      if plan.proxy != nil || commit.forget.contains(where: { $0.roles != nil }) {
        let containers = commit.forget.flatMap { record in
          Set([plan.container.name] + (record.roles ?? []).map(\.container.name)).sorted()
            .map { Self.releaseContainer($0, record.id) }
        }
        script.section(
          "forget containers", RemoteCommand(["docker", "rm"] + containers).silent, failure: .isAnswer)
      }
      let kept = Set(commit.records.map(\.image))
      let unused = Set(commit.forget.map(\.image)).subtracting(kept).sorted()
      if !unused.isEmpty {
        // Off the critical path: Docker refuses to remove an image a container still uses, and
        // the shell does not wait for it.
        script.add(DockerCommand.removeImages(unused).silent.inBackground)
      }
    }
    for (name, command) in also { script.section(name, command, failure: .isAnswer) }
    script.section("unlock", HostLock.release(commit.holder, paths), failure: .fails)
    return script
  }

  public func verify() async -> HostVerification? {
    await verify(at: nil)
  }

  /// The plan's verification against the app's published ports at `address` (a Swarm task's
  /// node), reached through this host's SSH connection or directly as `verify.via` says; nil
  /// address: this host's own.
  func verify(at address: String?) async -> HostVerification? {
    guard let spec = plan.verify else { return nil }
    let forwards = Locked<[Int: PortForward]>([:])
    defer {
      let open = forwards.current.values
      Task { for forward in open { await forward.close() } }
    }
    let node = address
    let address = address ?? plan.host.address
    let remote = remote
    let ports = plan.container.ports
    do {
      return try await remote.step("verify") {
        let hostHeaders = plan.proxy?.verificationHosts ?? [:]
        return try await HostVerifier(spec, hostHeaders: hostHeaders).run(host: name) { port in
          if let open = forwards.current[port] {
            return HTTPProbe.url(host: "127.0.0.1", port: open.localPort, path: "")
          }
          let (url, forward) = try await spec.via.reach(
            port, address: address, remoteHost: node ?? PortMapping.boundAddress(of: port, in: ports)
          ) { port, host in
            try await remote.forward(remotePort: port, remoteHost: host)
          }
          if let forward { forwards.withLock { $0[port] = forward } }
          return url
        }
      }
    } catch is CancellationError {
      return HostVerification(name: name, passed: false, error: "interrupted")
    } catch {
      return HostVerification(name: name, passed: false, error: String(describing: error))
    }
  }

  // MARK: Health

  /// `address`: the container's own address (behind the proxy), reached through SSH.
  func gate(_ container: ContainerRunSpec, at address: String? = nil) -> HealthGate {
    HealthGate(
      containerAddress: address,
      spec: plan.health, address: plan.host.address, containerName: container.name, ports: container.ports,
      startedID: startedID.withLock { id in
        defer { id = nil }
        return id
      },
      inspect: { [remote] in try await remote.inspect(container.name) },
      forward: { [remote] port, host in try await remote.forward(remotePort: port, remoteHost: host) },
      exec: { [remote] command, timeout in try await remote.exec(command, timeout: timeout) })
  }

  /// The last lines of the container's log, for a failure message. None when they cannot be
  /// read: they only add to a failure already being reported, which must not be lost for them.
  func logTail(_ container: String, lines: Int = 15) async -> [String] {
    var script = RemoteScript()
    let logs = script.section("logs", DockerCommand.logs(container, tail: lines), failure: .isAnswer)
    do {
      let output = try await remote.run("logs", script, timeout: .seconds(20), quiet: true)
      return (output[logs]?.lines ?? []).filter { !$0.isEmpty }.suffix(lines).map { "log: \($0)" }
    } catch {
      return []
    }
  }
}
