import DeployConfig
import DeployTransport
import Foundation

/// A blue-green deploy on a host behind its proxy (`proxy:` in the plan, docs/operations.md
/// "Zero downtime"): `install` starts the new release's container beside the old one, on the
/// `deployctl` network with no host port; `check` health-checks it at its container address,
/// switches the app's route to it, lets the old one drain, stops it and keeps it
/// (`<name>-<release>`); `restore` does the same backwards. The old container serves until the
/// switch, and a release that fails its check never receives a request.
extension DockerHost {
  /// What a blue-green change on this host has done so far (restore undoes exactly that).
  struct BlueGreen: Sendable {
    /// The new release's container, `<name>-<release>` until it is renamed `<name>`.
    var started: String
    /// The route before the switch (nil: the app had none).
    var previousRoute: ProxyRoute?
    /// The old container published a port the proxy needs: it was stopped before the proxy
    /// started (this one deploy has a gap).
    var gap = false
    /// The container that served before, as it was named then (`<name>`), and its release.
    var previous: ContainerSummary?
    var switched = false
    /// Where the previous container went when it stopped (`<name>-<release>`, or the parked name
    /// of a container deployctl did not start); nil: it still runs as `<name>`.
    var retiredAs: String?
  }

  /// `<name>-<release>`: the container of one release, and its alias on the `deployctl` network.
  static func releaseContainer(_ name: String, _ release: String) -> String { "\(name)-\(release)" }

  /// Prepare's extra reading for a plan with `proxy:`: the routes and the app's containers.
  func proxyReadings(into script: inout RemoteScript) -> ProxyReadings {
    let routes = script.section("proxy-routes", ProxyScripts.readRoutes(ProxyPaths()), failure: .isAnswer)
    let proxy = script.section(
      "proxy-container",
      RemoteCommand([
        "docker", "container", "inspect", "--format", "{{.State.Status}}", ProxyScripts.containerName,
      ]),
      failure: .isAnswer)
    let containers = script.section(
      "app-containers",
      RemoteCommand([
        "docker", "ps", "--all", "--no-trunc", "--filter", "label=\(ContainerRunSpec.appLabel)=\(plan.app)",
        "--filter", "label=\(ContainerRunSpec.environmentLabel)=\(plan.environment)", "--format",
        "{{json .}}",
      ]), failure: .isAnswer)
    return ProxyReadings(routes: routes, containers: containers, proxy: proxy)
  }

  /// The sections of prepare's script that `proxyReadings` added.
  struct ProxyReadings {
    var routes: RemoteScript.Section
    var containers: RemoteScript.Section
    var proxy: RemoteScript.Section
  }

  /// Reads what `proxyReadings` printed; refuses, before any change, a route another app holds.
  func readProxy(
    _ routes: RemoteScriptOutput.Section?, _ containers: RemoteScriptOutput.Section?,
    proxy container: RemoteScriptOutput.Section?
  ) async throws {
    guard let proxy = plan.proxy else { return }
    let reading = ProxyRoutes.parse(routes?.output ?? "")
    for problem in reading.unreadable {
      await progress.host(name, "read state", .note("a proxy route could not be read: \(problem)"))
    }
    let mine = ProxyRoute(plan: plan, proxy: proxy, container: "-", release: "-")
    if let (other, claim) = reading.conflict(with: mine) {
      throw ProxyError.routeTaken(
        host: name, claim: claim, app: other.app, environment: other.environment)
    }
    let list = containers?.succeeded == true ? try ContainerSummary.parse(containers?.output ?? "") : []
    router.use(reading)
    proxyState.withLock {
      $0.containers = list
      $0.proxyExists = container?.succeeded == true
    }
  }

  // MARK: install

  func installBehindProxy(_ plan: InstallPlan, _ proxy: ProxySpec) async throws {
    let spec = plan.release.container
    let started = Self.releaseContainer(spec.name, spec.release)
    let state = proxyState.current
    let route = router.route
    var script = RemoteScript()
    if let envFile = plan.envFile, let path = spec.envFile {
      script.section("env-file", HostState.writePrivate(envFile, to: path, in: paths.secretsDirectory))
    }
    script.section(
      "pull",
      DockerCommand.imageID(spec.image.pinned ?? spec.image.description).silent.or(
        DockerScripts.pull(spec.image, login: registry, folder: paths.appDirectory)))
    let named = state.containers.first { $0.names == spec.name }
    let needed = [proxy.httpPort, proxy.httpsPort]
    let published = plan.previous?.container.ports.map(\.hostPort) ?? []
    let gap =
      !state.proxyExists && named?.state == "running" && route == nil
      && needed.contains(where: published.contains)
    if gap, let named {
      let ports = needed.filter(published.contains).map(String.init).joined(separator: ", ")
      await progress.host(
        name, "gap",
        .note(
          "this one deploy has a gap: \(named.names) publishes port \(ports), which the proxy needs; it stops now and requests fail until the new release is routed"
        ))
      script.section(
        "stop for the proxy", DockerCommand.stop(named.names, timeoutSeconds: spec.stopTimeoutSeconds).quiet)
    }
    script.section(
      "proxy",
      ProxyScripts.ensure(
        proxy, paths: ProxyPaths(), routes: router.routes.routes, login: registry,
        stateFolder: paths.appDirectory))
    // A run killed after its switch left the routed container under its release's name, and the
    // one before it running as `<name>`: that one no longer gets requests; it is kept stopped.
    let routed = route.flatMap { route in
      state.containers.first { $0.names == route.container && $0.names != spec.name && $0.state == "running" }
    }
    if routed != nil, let named, named.state == "running", let release = named.release {
      let kept = Self.releaseContainer(spec.name, release)
      await progress.host(
        name, "clean up", .note("stopping \(named.names): the proxy routes to \(route?.container ?? "")"))
      script.section(
        "unrouted",
        DockerCommand.stop(named.names, timeoutSeconds: spec.stopTimeoutSeconds).quiet.and(
          RemoteCommand(["docker", "rm", kept]).silent.then(DockerCommand.rename(named.names, to: kept))))
    }
    let previous = routed ?? named
    // Containers a run started and never switched to (it was interrupted or killed): running,
    // not routed, not the app's current one.
    let leftovers = state.containers.filter {
      $0.state != "exited" && $0.names != spec.name && $0.names != route?.container && $0.names != started
    }
    for leftover in leftovers {
      await progress.host(
        name, "clean up", .note("removing \(leftover.names), started by a run that never switched to it"))
      script.section(
        "leftover-\(leftover.names)", RemoteCommand(["docker", "rm", "--force", leftover.names]).quiet)
    }
    let run = script.section("run", try startCommand(spec, as: started))
    let output = try await remote.run("start beside the old container", script, timeout: .seconds(900))
    startedID.withLock { $0 = Self.containerID(output[run]) }
    blueGreen.withLock {
      $0 = BlueGreen(started: started, previousRoute: route, gap: gap, previous: previous)
    }
  }

  /// Starts `spec` as `name`, on the `deployctl` network under the alias `name`, with no host
  /// port: a kept container of that name (a rollback) is started again as it was; one left
  /// running by an interrupted run is replaced.
  func startCommand(_ spec: ContainerRunSpec, as name: String) throws -> RemoteCommand {
    let next = spec.behindProxy(as: name)
    // On the plan's own network, the container joins `deployctl` once it exists.
    let connect =
      spec.options.network == nil
      ? RemoteCommand.success
      : RemoteCommand(["docker", "network", "connect", "--alias", name, ProxyScripts.network, name]).quiet
    let running = RemoteCommand(["docker", "container", "inspect", "--format", "{{.State.Running}}", name])
    let fresh = RemoteCommand(["docker", "rm", "--force", name]).silent.then(try DockerCommand.run(next)).and(
      connect)
    return .if(
      RemoteCommand(["docker", "container", "inspect", name]).silent,
      then: .if(
        RemoteCommand(words: ["[", .output(of: running.withoutErrors), "=", "false", "]"]),
        then: DockerCommand.start(name).quiet.and(
          RemoteCommand(["docker", "container", "inspect", "--format", "{{.Id}}", name])),
        else: fresh),
      else: fresh)
  }

  // MARK: check, switch, drain

  func checkBehindProxy(_ plan: InstallPlan, _ proxy: ProxySpec) async throws {
    guard var state = blueGreen.current else { return }
    try await healthBehindProxy(plan.release.container, as: state.started, port: proxy.appPort)
    let route = ProxyRoute(
      plan: self.plan, proxy: proxy, container: state.started, release: plan.release.id,
      maintenance: state.previousRoute?.maintenance)
    let retiring = state.previousRoute.flatMap { $0.container == state.started ? nil : $0.upstream }
    try await switchRoute(to: route, retiring: retiring)
    state.switched = true
    blueGreen.withLock { $0 = state }
    if let retiring { await drain(retiring, limit: proxy.drain) }
    state.retiredAs = try await retire(state, spec: plan.release.container, previous: plan.previous)
    blueGreen.withLock { $0 = state }
  }

  /// The plan's health check against `container` at its address on the `deployctl` network,
  /// through the host's SSH connection (the address is only reachable from the host).
  func healthBehindProxy(_ spec: ContainerRunSpec, as container: String, port: Int) async throws {
    var script = RemoteScript()
    let address = script.section("address", ProxyScripts.address(of: container))
    let output = try await remote.run("container address", script, timeout: .seconds(30), quiet: true)
    let ip = output[address]?.lastLine ?? ""
    guard !ip.isEmpty else {
      throw RolloutError.stepFailed(
        host: name, step: "health", exitStatus: 1,
        output: "\(container) has no address on the \(ProxyScripts.network) network")
    }
    var target = spec
    target.name = container
    try await remote.step("health") {
      let report = try await gate(target, at: ip).check(stop: stop)
      guard report.healthy else {
        let logs = await logTail(container)
        throw RolloutError.unhealthy(host: name, reason: report.reason, details: report.resultLines + logs)
      }
    }
  }

  /// Points the app's route at `route` (nil: removes it); `retiring`: the upstream it leaves,
  /// which `drain` then waits for.
  func switchRoute(to route: ProxyRoute?, step: String = "switch route", retiring: String? = nil) async throws
  {
    // Maintenance belongs to `deployctl maintenance`: a switch keeps what the route has now, also
    // when it was turned on after this run read the route.
    try await router.change(step: step, retiring: retiring) { current in
      guard var route else { return nil }
      if let current { route.maintenance = current.maintenance }
      return route
    }
  }

  func drain(_ upstream: String, limit: Duration) async {
    await router.drain(upstream, limit: limit)
  }

  /// Stops the container that served before and keeps it as `<name>-<release>` (or parks one
  /// deployctl did not start), then gives the new one the app's name. Returns where the old one
  /// went.
  func retire(_ state: BlueGreen, spec: ContainerRunSpec, previous: ReleaseRecord?) async throws -> String? {
    var script = RemoteScript()
    var retiredAs: String?
    if let old = state.previous, old.names != state.started {
      let stopTimeout = previous?.container.stopTimeoutSeconds ?? spec.stopTimeoutSeconds
      if let release = old.release {
        let kept = Self.releaseContainer(spec.name, release)
        retiredAs = kept
        let stopOld = DockerCommand.stop(old.names, timeoutSeconds: stopTimeout).quiet
        script.section(
          "stop old",
          old.names == kept
            ? stopOld
            : stopOld.and(
              RemoteCommand(["docker", "rm", kept]).silent.then(DockerCommand.rename(old.names, to: kept))))
      } else {
        retiredAs = DockerScripts.parkedName(spec.name)
        script.section("stop old", DockerScripts.park(old.names, timeout: stopTimeout))
      }
    }
    script.section("rename", DockerCommand.rename(state.started, to: spec.name))
    _ = try await remote.run("stop the old container", script, timeout: .seconds(300))
    return retiredAs
  }

  /// An app moved from `proxy:` back to its own ports: once its new container is healthy, its
  /// route leaves the proxy (other apps keep theirs). A proxy that cannot be changed is said,
  /// not a failure: the app runs on its ports either way.
  func removeLeftoverRoute() async {
    do {
      try await router.read()
      guard router.route != nil else { return }
      try await router.change(step: "remove the proxy route") { _ in nil }
    } catch {
      await progress.host(name, "proxy", .note("the app's old route could not be removed: \(error)"))
    }
  }

  // MARK: restore

  func restoreBehindProxy(_ plan: InstallPlan, _ proxy: ProxySpec) async throws {
    guard let state = blueGreen.current else { return }
    let spec = plan.release.container
    guard state.switched else {
      // Never routed: the old container served throughout and still does, once the proxy runs
      // (it is started again if it died or was stopped during the deploy).
      var script = RemoteScript()
      script.section("remove", RemoteCommand(["docker", "rm", "--force", state.started]).quiet)
      if state.gap {
        // The proxy this run started holds the old container's port: it goes, the old one
        // starts again as it was.
        script.section(
          "remove proxy", RemoteCommand(["docker", "rm", "--force", ProxyScripts.containerName]).quiet)
        script.section("start old", DockerCommand.start(spec.name).quiet)
        _ = try await remote.run("restore the old container", script, timeout: .seconds(120))
        blueGreen.withLock { $0 = nil }
        return
      }
      let revive = script.section(
        "proxy",
        ProxyScripts.ensure(
          proxy, paths: ProxyPaths(), routes: router.routes.routes, login: registry,
          stateFolder: paths.appDirectory),
        failure: .isAnswer)
      let output = try await remote.run("remove the new container", script, timeout: .seconds(120))
      if let section = output[revive], !section.succeeded {
        await progress.host(name, "proxy", .note("the proxy is not serving: \(section.lastLine)"))
      }
      blueGreen.withLock { $0 = nil }
      return
    }
    let newName = state.retiredAs == nil && state.previous != nil ? state.started : spec.name
    if let retired = state.retiredAs, retired == DockerScripts.parkedName(spec.name) {
      // The app ran outside the proxy before: back to that, and no route.
      try await switchRoute(to: nil, step: "switch route back")
      var script = RemoteScript()
      script.section("stop new", DockerScripts.stopAndRemove(newName, timeout: spec.stopTimeoutSeconds))
      script.section("unpark", DockerScripts.unpark(spec.name))
      _ = try await remote.run("restore (no previous release)", script)
      blueGreen.withLock { $0 = nil }
      return
    }
    guard let previousRoute = state.previousRoute else {
      // The app published its own ports before: its old container comes back as it was.
      try await switchRoute(to: nil, step: "switch route back")
      var script = RemoteScript()
      script.section("stop new", DockerScripts.stopAndRemove(newName, timeout: spec.stopTimeoutSeconds))
      if state.gap, router.routes.routes.isEmpty {
        script.section(
          "remove proxy", RemoteCommand(["docker", "rm", "--force", ProxyScripts.containerName]).quiet)
      }
      if let retired = state.retiredAs {
        script.section("rename", DockerCommand.rename(retired, to: spec.name))
        script.section("start old", DockerCommand.start(spec.name).quiet)
      }
      _ = try await remote.run("restore the old container", script)
      blueGreen.withLock { $0 = nil }
      return
    }
    if let retired = state.retiredAs {
      // The previous release's container was stopped and kept: start it again (from its record
      // if it is gone) and check it before it gets requests back.
      guard let previous = plan.previous else {
        throw RolloutError.stepFailed(
          host: name, step: "restore", exitStatus: 1, output: "no record of the release that ran before")
      }
      var script = RemoteScript()
      let run = script.section("start previous", try startCommand(previous.container, as: retired))
      let output = try await remote.run("restore \(previous.id)", script)
      startedID.withLock { $0 = Self.containerID(output[run]) }
      try await healthBehindProxy(previous.container, as: retired, port: proxy.appPort)
    }
    let failedUpstream = "\(state.started):\(proxy.appPort)"
    try await switchRoute(to: previousRoute, step: "switch route back", retiring: failedUpstream)
    await drain(failedUpstream, limit: proxy.drain)
    var script = RemoteScript()
    script.section("stop new", DockerScripts.stopAndRemove(newName, timeout: spec.stopTimeoutSeconds))
    if let retired = state.retiredAs {
      script.section("rename", DockerCommand.rename(retired, to: spec.name))
    }
    _ = try await remote.run("stop the failed release", script)
    blueGreen.withLock { $0 = nil }
  }
}

extension ContainerRunSpec {
  /// This release's container behind the proxy: named `name`, no host port, and (without a
  /// network of the plan's) on `deployctl` under the alias `name`.
  func behindProxy(as name: String) -> ContainerRunSpec {
    var next = self
    next.name = name
    next.ports = []
    if next.options.network == nil {
      next.options.network = ProxyScripts.network
      next.options.networkAliases = [name]
    }
    return next
  }
}

/// What the proxy refused, with the host and what to do.
public enum ProxyError: Error, Sendable, CustomStringConvertible {
  case routeTaken(host: String, claim: String, app: String, environment: String)
  case refused(host: String, message: String)

  public var description: String {
    switch self {
    case .routeTaken(let host, let claim, let app, let environment):
      return
        "\(host): the proxy route \(ProxySpec.describe(claim: claim)) is taken by app \(app) of \(environment); give this app other `proxy.hosts` or `proxy.path_prefix`, or remove that app's route first"
    case .refused(let host, let message):
      return "\(host): \(message)"
    }
  }
}
