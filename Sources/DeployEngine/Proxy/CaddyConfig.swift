import DeployConfig
import Foundation

/// The configuration a host's proxy (Caddy) loads, rendered from every app's route: one HTTP
/// server on the container's port 80 and, when an app asks for HTTPS, one on 443 with
/// certificates from Caddy's local CA (`internal`) or an ACME CA (`auto`). Caddy applies a load
/// atomically and lets requests in flight on the old configuration finish (docs/operations.md
/// "The proxy").
public enum CaddyConfig {
  /// Where the admin API listens, inside the proxy container only: `docker exec` reaches it,
  /// the apps on the `deployctl` network do not.
  static let adminAddress = "localhost:2019"

  /// The whole configuration as one JSON document. `retiring`: per route key, the upstream the
  /// change being rendered takes that route away from (`serve` keeps it listed).
  public static func render(_ routes: [ProxyRoute], retiring: [String: String] = [:]) -> String {
    let ordered = routes.sorted(by: moreSpecific)
    let secure = ordered.filter { $0.https != ProxySpec.HTTPS.off.rawValue }
    var httpRoutes: [[String: Any]] = []
    for route in ordered {
      httpRoutes.append(
        route.https == ProxySpec.HTTPS.off.rawValue
          ? serve(route, retiring: retiring[route.key]) : redirect(route))
    }
    httpRoutes.append(notRouted)
    var servers: [String: Any] = [
      "http": [
        "listen": [":80"], "routes": httpRoutes, "automatic_https": ["disable": true],
      ] as [String: Any]
    ]
    var apps: [String: Any] = [:]
    if !secure.isEmpty {
      servers["https"] =
        [
          "listen": [":443"], "routes": secure.map { serve($0, retiring: retiring[$0.key]) } + [notRouted],
          "automatic_https": ["disable_redirects": true],
        ] as [String: Any]
      var policies: [[String: Any]] = []
      let internalHosts = secure.filter { $0.https == ProxySpec.HTTPS.internal.rawValue }.flatMap(\.hosts)
      if !internalHosts.isEmpty {
        policies.append(["subjects": internalHosts, "issuers": [["module": "internal"]]])
      }
      let acmeHosts = secure.filter { $0.https == ProxySpec.HTTPS.auto.rawValue }.flatMap(\.hosts)
      if !acmeHosts.isEmpty { policies.append(["subjects": acmeHosts]) }
      apps["tls"] = ["automation": ["policies": policies]]
    }
    // No `grace_period`: with one, Caddy 2.6 and later cancel the replaced server's shutdown as
    // soon as the (non-blocking) reload returns ("server shutdown: context canceled" in its log),
    // instead of letting its connections finish. Without it the replaced server closes idle
    // connections and lets active ones end; `drain` bounds how long the old container waits.
    apps["http"] = ["servers": servers] as [String: Any]
    let config: [String: Any] = ["admin": ["listen": adminAddress], "apps": apps]
    // Only strings, numbers, booleans, arrays and dictionaries: serialization cannot fail.
    let data =
      (try? JSONSerialization.data(withJSONObject: config, options: [.sortedKeys, .withoutEscapingSlashes]))
      ?? Data()
    return String(decoding: data, as: UTF8.self)
  }

  /// Host names before any host, longer path prefixes before shorter: Caddy takes the first
  /// route that matches.
  static func moreSpecific(_ a: ProxyRoute, _ b: ProxyRoute) -> Bool {
    if a.hosts.isEmpty != b.hosts.isEmpty { return !a.hosts.isEmpty }
    let (pa, pb) = (a.pathPrefix?.count ?? 0, b.pathPrefix?.count ?? 0)
    if pa != pb { return pa > pb }
    return a.key < b.key
  }

  static func match(_ route: ProxyRoute) -> [[String: Any]] {
    var match: [String: Any] = [:]
    if !route.hosts.isEmpty { match["host"] = route.hosts }
    if let prefix = route.pathPrefix { match["path"] = [prefix, prefix + "/*"] }
    return match.isEmpty ? [] : [match]
  }

  /// The app's route: its maintenance page, or the app behind a reverse proxy that retries a
  /// refused connection for a few seconds (a container restarting answers again).
  static func serve(_ route: ProxyRoute, retiring: String? = nil) -> [String: Any] {
    var handle: [[String: Any]] = []
    if let message = route.maintenance {
      handle.append([
        "handler": "static_response", "status_code": 503, "body": message + "\n",
        "headers": ["Content-Type": ["text/plain; charset=utf-8"], "Retry-After": ["30"]],
      ])
    } else {
      if let prefix = route.pathPrefix, route.stripPrefix {
        handle.append(["handler": "rewrite", "strip_path_prefix": prefix])
      }
      // The upstream a switch retires stays listed after the app's own, never chosen (`first`
      // takes the first available, and Caddy marks none unavailable without health checks): Caddy
      // counts requests in flight per upstream but forgets an upstream, count and all, once no
      // loaded configuration names it, and requests the replaced configuration took may still
      // be connecting to the old container. Listed, their count stays in
      // `/reverse_proxy/upstreams` for the drain. The next change lets it go.
      let upstreams = [route.upstream] + [retiring].compactMap { $0 }.filter { $0 != route.upstream }
      var balancing: [String: Any] = ["try_duration": "5s", "try_interval": "100ms"]
      if upstreams.count > 1 { balancing["selection_policy"] = ["policy": "first"] }
      handle.append([
        "handler": "reverse_proxy",
        "upstreams": upstreams.map { ["dial": $0] },
        "load_balancing": balancing,
        "transport": [
          "protocol": "http", "response_header_timeout": "\(max(1, route.responseTimeoutSeconds))s",
        ],
      ])
    }
    var result: [String: Any] = ["handle": handle, "terminal": true, "@id": "deployctl-\(route.key)"]
    let match = match(route)
    if !match.isEmpty { result["match"] = match }
    return result
  }

  /// Plain HTTP for an HTTPS app: a permanent redirect to the same URL on HTTPS.
  static func redirect(_ route: ProxyRoute) -> [String: Any] {
    var result: [String: Any] = [
      "handle": [
        [
          "handler": "static_response", "status_code": 308,
          "headers": ["Location": ["https://{http.request.host}{http.request.uri}"]],
        ] as [String: Any]
      ],
      "terminal": true,
    ]
    let match = match(route)
    if !match.isEmpty { result["match"] = match }
    return result
  }

  /// What answers a request no app's route takes: Caddy's own default is an empty 200, which a
  /// check would take for success.
  static var notRouted: [String: Any] {
    [
      "handle": [
        [
          "handler": "static_response", "status_code": 404,
          "body": "deployctl-proxy: no app is routed here\n",
        ] as [String: Any]
      ]
    ]
  }
}
