import DeployConfig
import DeployTransport
import Foundation

/// `deployctl proxy reboot`: a host's proxy container replaced by a new one (a new image, other
/// ports), its routes kept: they are in `caddy.json` in the bind-mounted folder, which the new
/// container starts from (docs/operations.md "The proxy").
extension ProxyScripts {
  /// The old proxy container while its replacement starts; started again if that fails.
  static let previousName = containerName + "-previous"

  /// What the new container needs before the old one stops: the network, the folder, a
  /// configuration (rendered from `routes` when there is none yet), and the image, pulled
  /// (logged in as `login` says) so the gap is not spent downloading.
  public static func prepareReboot(
    _ proxy: ProxySpec, routes: [ProxyRoute], paths: ProxyPaths, login: RegistryLogin?
  ) -> RemoteCommand {
    .all([
      RemoteCommand(["docker", "network", "inspect", network]).silent.or(
        RemoteCommand(["docker", "network", "create", network]).quiet),
      RemoteCommand(["mkdir", "-p", paths.routesDirectory]),
      .if(
        RemoteCommand(["test", "-f", paths.configFile]).negated,
        then: HostState.atomicWrite(CaddyConfig.render(routes), to: paths.configFile, in: paths.directory)),
      DockerScripts.pull(proxy.image, login: login, folder: paths.directory),
    ])
  }

  /// Stops the proxy container (kept aside as `deployctl-proxy-previous`), starts the new one
  /// and waits until its admin API takes `caddy.json`; then removes the old one. When the new
  /// one does not start or take its configuration, the old one is started again and the host
  /// fails with Docker's or Caddy's message. All under the proxy's lock, so no route changes
  /// meanwhile (a deploy's switch waits for it). It finishes when deployctl is interrupted or
  /// its connection drops half-way (hang-ups and broken pipes ignored): a host is never left
  /// without a proxy. Prints `gap-ms N`: from the old container's stop to the new one taking
  /// its configuration.
  public static func replace(_ proxy: ProxySpec, paths: ProxyPaths) -> RemoteCommand {
    let name = q(containerName)
    let previous = q(previousName)
    return .program(
      """
      (
        trap '' HUP PIPE INT TERM
        flock -w 60 9 || { echo 'the proxy is locked by another deployctl run for over 60 s' >&2; exit 1; }
        start=$(date +%s%N 2>/dev/null)
        if docker container inspect \(name) >/dev/null 2>&1; then
          docker rm -f \(previous) >/dev/null 2>&1
          docker stop -t 10 \(name) >/dev/null && docker rename \(name) \(previous) || { echo 'could not stop the proxy container' >&2; exit 1; }
        fi
        if out=$( (\(run(proxy, paths: paths).line)) 2>&1 >/dev/null) && out=$( (\(waitForAdmin(paths).line)) 2>&1); then
          end=$(date +%s%N 2>/dev/null)
          docker rm \(previous) >/dev/null 2>&1
          case "$start$end" in *[!0-9]*|'') ;; *) echo "gap-ms $(( (end - start) / 1000000 ))" ;; esac
        else
          back=''
          docker rm -f \(name) >/dev/null 2>&1
          if docker container inspect \(previous) >/dev/null 2>&1; then
            docker rename \(previous) \(name) && docker start \(name) >/dev/null && back='; the previous proxy container runs again'
          fi
          echo "the new deployctl-proxy did not start: $(printf '%s\\n' "$out" | tail -n 3)$back" >&2
          exit 1
        fi
      ) 9>>\(q(paths.lockFile))
      """)
  }

  /// The `gap-ms N` line of `replace`'s output.
  public static func gapMilliseconds(_ output: String) -> Int? {
    output.split(separator: "\n").lazy.compactMap { line -> Int? in
      guard line.hasPrefix("gap-ms ") else { return nil }
      return Int(line.dropFirst("gap-ms ".count))
    }.first
  }
}

private func q(_ value: String) -> String { ShellQuote.quote(value) }
