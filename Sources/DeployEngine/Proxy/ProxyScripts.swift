import DeployConfig
import DeployTransport
import Foundation

/// Where a host's proxy keeps its routes and configuration (docs/operations.md "The proxy"):
///
///     /var/lib/deployctl/.proxy/
///       routes/<app>@<env>.json   one app's route (ProxyRoute)
///       generation                bumped by every change (ProxyRoutes.generation)
///       caddy.json                what Caddy loads, rendered from routes/ (CaddyConfig)
///       lock                      flock(1) file: one change at a time
///
/// The folder is mounted read-only into the proxy container at `/etc/deployctl`, and Caddy
/// starts from `caddy.json` there, so routes survive a restart of the proxy, of the engine or
/// of the host.
public struct ProxyPaths: Sendable, Equatable {
  public let directory: String

  public init(base: String = HostPaths.defaultBase) {
    directory = (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/.proxy"
  }

  public var routesDirectory: String { directory + "/routes" }
  public var generationFile: String { directory + "/generation" }
  public var configFile: String { directory + "/caddy.json" }
  var nextConfigFile: String { directory + "/caddy.next.json" }
  var lockFile: String { directory + "/lock" }
  public func routeFile(_ key: String) -> String { routesDirectory + "/" + key + ".json" }

  /// The folder as the proxy container sees it.
  static let mountPoint = "/etc/deployctl"
}

/// The proxy's container and the commands that change it, composed from quoted words; the few
/// steps that need a loop or a lock are fixed programs with every value quoted.
public enum ProxyScripts {
  public static let containerName = "deployctl-proxy"
  public static let network = "deployctl"
  /// Named volumes for Caddy's state (`/config`) and certificates (`/data`), as the official
  /// image expects them.
  static let configVolume = "deployctl-proxy-config"
  static let dataVolume = "deployctl-proxy-data"
  public static let label = "deployctl.proxy"

  /// `generation N`, then every route, one per line; read with `ProxyRoutes.parse`.
  public static func readRoutes(_ paths: ProxyPaths) -> RemoteCommand {
    let generation = RemoteCommand(["cat", paths.generationFile]).withoutErrors
    let routes = RemoteCommand([
      "find", paths.routesDirectory + "/.", "!", "-name", ".", "-prune", "-name", "*.json", "-type", "f",
      "-exec", "awk", "1", "{}", "+",
    ]).withoutErrors
    return RemoteCommand(words: ["printf", "generation %s\\n", .output(of: generation)]).then(routes).then(
      .success)
  }

  /// The kernel setting that keeps a route switch from resetting connections: every change
  /// makes Caddy open a new listening socket beside the old one (`SO_REUSEPORT`) and close the
  /// old one, and Linux resets the connections still queued on a closed socket unless this
  /// moves them to the new one (Linux 5.14+, per network namespace, so set in the proxy's).
  static let migrateRequestsSysctl = "net.ipv4.tcp_migrate_req"

  /// `docker run` of the proxy container, with `migrateRequestsSysctl` where the host's kernel
  /// has it and Docker applies it; otherwise (an older kernel, a runtime that refuses the
  /// setting) the proxy runs without, and a switch may reset a connection that arrives in the
  /// same instant.
  static func run(_ proxy: ProxySpec, paths: ProxyPaths) -> RemoteCommand {
    let plain = RemoteCommand(runArguments(proxy, paths: paths))
    let withSetting = RemoteCommand(
      runArguments(proxy, paths: paths, sysctls: ["\(migrateRequestsSysctl)=1"]))
    // A refused setting leaves the container created, not started: removed before the plain run.
    let removeCreated = RemoteCommand(["docker", "rm", "-f", containerName]).silent
    return .if(
      RemoteCommand([
        "test", "-e", "/proc/sys/" + migrateRequestsSysctl.replacingOccurrences(of: ".", with: "/"),
      ]),
      then: withSetting.or(removeCreated.then(plain)),
      else: plain)
  }

  /// The arguments of `docker run` for the proxy container.
  static func runArguments(_ proxy: ProxySpec, paths: ProxyPaths, sysctls: [String] = []) -> [String] {
    var argv = [
      "docker", "run", "--detach", "--name", containerName, "--restart", "unless-stopped",
      "--network", network, "--label", "\(label)=true",
      // Both ports always, as kamal-proxy does: an app that turns HTTPS on later needs no new
      // proxy container.
      "--publish", "\(proxy.httpPort):80", "--publish", "\(proxy.httpsPort):443",
    ]
    argv += sysctls.flatMap { ["--sysctl", $0] }
    argv += [
      "--volume", "\(dataVolume):/data", "--volume", "\(configVolume):/config",
      "--volume", "\(paths.directory):\(ProxyPaths.mountPoint):ro",
      "--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3",
      proxy.image.pinned ?? proxy.image.description,
      "caddy", "run", "--config", ProxyPaths.mountPoint + "/caddy.json",
    ]
    return argv
  }

  /// Makes sure the network and the proxy exist and the proxy runs: pulls its image (logged in
  /// as `login` says), refuses with the port and what holds it when a port it must publish is
  /// taken, starts it, and waits (bounded) until its admin API takes the configuration. Changes
  /// nothing of the app's.
  public static func ensure(
    _ proxy: ProxySpec, paths: ProxyPaths, routes: [ProxyRoute], login: RegistryLogin?, stateFolder: String
  ) -> RemoteCommand {
    let image = proxy.image.pinned ?? proxy.image.description
    let ports = [proxy.httpPort, proxy.httpsPort]
    let config = CaddyConfig.render(routes)
    let setUp = RemoteCommand.sequence([
      RemoteCommand(["docker", "network", "inspect", network]).silent.or(
        RemoteCommand(["docker", "network", "create", network]).quiet),
      RemoteCommand(["mkdir", "-p", paths.routesDirectory]),
      .if(
        RemoteCommand(["test", "-f", paths.configFile]).negated,
        then: HostState.atomicWrite(config, to: paths.configFile, in: paths.directory)),
    ])
    let pull = RemoteCommand(["docker", "image", "inspect", image]).silent.or(
      DockerScripts.pull(proxy.image, login: login, folder: stateFolder))
    let portChecks = ports.map { port in
      RemoteCommand.program(
        """
        holder=$(docker ps --filter publish=\(port) --format '{{.Names}}' 2>/dev/null | head -n 1)
        if [ -n "$holder" ]; then
          echo "port \(port) is published by the container $holder; deployctl-proxy needs it: stop that container or set proxy.http_port/https_port" >&2; exit \(DockerCommand.unchangedExitStatus)
        fi
        if command -v ss >/dev/null 2>&1; then
          held=$(ss -Hltnp "sport = :\(port)" 2>/dev/null | head -n 1)
          if [ -n "$held" ]; then
            echo "port \(port) is taken on this host by another program ($held); deployctl-proxy needs it: free it or set proxy.http_port/https_port" >&2; exit \(DockerCommand.unchangedExitStatus)
          fi
        fi
        """)
    }
    let create = RemoteCommand.sequence(portChecks + [run(proxy, paths: paths).quiet])
    let running = RemoteCommand([
      "docker", "container", "inspect", "--format", "{{.State.Running}}", containerName,
    ])
    // A proxy that publishes other ports than the plan's (an older plan's) is not replaced
    // under the other apps: `proxy reboot` does that.
    let portsMatch = RemoteCommand.program(
      """
      for pair in \(q("\(proxy.httpPort):80")) \(q("\(proxy.httpsPort):443")); do
        if ! docker port \(q(containerName)) "${pair#*:}/tcp" 2>/dev/null | grep -q ":${pair%%:*}$"; then
          echo "deployctl-proxy on this host does not publish host port ${pair%%:*} (to its port ${pair#*:}) as this plan's proxy.http_port/https_port ask; replace it with: deployctl proxy reboot ENV" >&2; exit \(DockerCommand.unchangedExitStatus)
        fi
      done
      """)
    let start = RemoteCommand.if(
      RemoteCommand(["docker", "container", "inspect", containerName]).silent,
      then: portsMatch.and(
        .if(
          RemoteCommand(words: ["[", .output(of: running.withoutErrors), "=", "true", "]"]),
          then: .success, else: RemoteCommand(["docker", "start", containerName]).quiet)),
      else: create)
    return .all([setUp, pull, start, waitForAdmin(paths)])
  }

  /// Loads `caddy.json` until the admin API takes it (the proxy may have just started), at most
  /// 20 times, 0.5 s apart; then fails with Caddy's own message.
  static func waitForAdmin(_ paths: ProxyPaths) -> RemoteCommand {
    .program(
      """
      i=0
      until out=$(docker exec \(q(containerName)) caddy reload --config \(q(ProxyPaths.mountPoint + "/caddy.json")) --address \(q(CaddyConfig.adminAddress)) 2>&1); do
        i=$((i + 1))
        if [ "$i" -ge 20 ]; then echo "deployctl-proxy does not take its configuration: $(printf '%s\\n' "$out" | tail -n 1)" >&2; exit 1; fi
        sleep 0.5
      done
      """)
  }

  /// The exit status of `change` when the routes changed since they were read: read again and
  /// retry.
  public static let staleExitStatus: Int32 = 75

  /// Writes `route` (nil: removes the app's route) and loads `config`, all under the proxy's
  /// lock and only if the routes are still at `generation`: else exits `staleExitStatus`. When
  /// Caddy refuses the configuration, the route file and the running configuration stay as
  /// they were, and Caddy's message is the error.
  public static func change(
    key: String, route: ProxyRoute?, config: String, generation: Int, paths: ProxyPaths
  ) -> RemoteCommand {
    let routeFile = paths.routeFile(key)
    let routeText = route.map(HostStateJSON.line) ?? ""
    let inContainer = ProxyPaths.mountPoint + "/caddy.next.json"
    return .program(
      """
      (
        flock -w 60 9 || { echo 'the proxy is locked by another deployctl run for over 60 s' >&2; exit 1; }
        current=$(cat \(q(paths.generationFile)) 2>/dev/null || echo 0)
        [ "${current:-0}" = \(q(String(generation))) ] || exit \(staleExitStatus)
        mkdir -p \(q(paths.routesDirectory)) || exit 1
        rm -f \(q(routeFile)).prev
        [ -f \(q(routeFile)) ] && { cp -p \(q(routeFile)) \(q(routeFile)).prev || exit 1; }
        if [ -n \(q(routeText)) ]; then
          printf '%s\\n' \(q(routeText)) > \(q(routeFile)).tmp && mv -f \(q(routeFile)).tmp \(q(routeFile)) || exit 1
        else
          rm -f \(q(routeFile))
        fi
        printf '%s\\n' \(q(config)) > \(q(paths.nextConfigFile)) || exit 1
        if out=$(docker exec \(q(containerName)) caddy reload --config \(q(inContainer)) --address \(q(CaddyConfig.adminAddress)) 2>&1); then
          mv -f \(q(paths.nextConfigFile)) \(q(paths.configFile)) && echo $((current + 1)) > \(q(paths.generationFile)).tmp && mv -f \(q(paths.generationFile)).tmp \(q(paths.generationFile))
          rm -f \(q(routeFile)).prev
          echo switched
        else
          if [ -f \(q(routeFile)).prev ]; then mv -f \(q(routeFile)).prev \(q(routeFile)); else rm -f \(q(routeFile)); fi
          rm -f \(q(paths.nextConfigFile))
          echo "deployctl-proxy refused the new routes: $(printf '%s\\n' "$out" | grep -v '"level":"info"' | tail -n 3)" >&2
          exit 1
        fi
      ) 9>>\(q(paths.lockFile))
      """)
  }

  /// The admin API's upstreams (address, requests in flight), for the drain.
  public static func upstreams() -> RemoteCommand {
    RemoteCommand([
      "docker", "exec", containerName, "wget", "-q", "-O", "-",
      "http://\(CaddyConfig.adminAddress)/reverse_proxy/upstreams",
    ])
  }

  /// Requests in flight to `upstream` in `upstreams()`'s output; nil when it cannot tell, also
  /// when the upstream is not listed (the proxy no longer counts it: see `CaddyConfig.render`).
  public static func inFlight(_ upstream: String, in output: String) -> Int? {
    struct Upstream: Decodable {
      var address: String
      var num_requests: Int
    }
    guard let list = try? JSONDecoder().decode([Upstream].self, from: Data(output.utf8)) else {
      return nil  // an image without wget, or an older Caddy: the caller waits the drain out
    }
    return list.first { $0.address == upstream }?.num_requests
  }

  /// The container's address on the `deployctl` network (empty if it is not on it).
  public static func address(of container: String) -> RemoteCommand {
    RemoteCommand([
      "docker", "container", "inspect", "--format",
      "{{with index .NetworkSettings.Networks \"\(network)\"}}{{.IPAddress}}{{end}}", container,
    ])
  }
}

private func q(_ value: String) -> String { ShellQuote.quote(value) }
