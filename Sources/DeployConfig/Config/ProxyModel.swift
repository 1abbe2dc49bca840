/// `proxy:` of a plan: the app publishes no host port; each host's one proxy container
/// (`deployctl-proxy`, Caddy) routes requests to it by Host name and path, and a deploy there is
/// blue-green (docs/configuration.md "proxy").
public struct ProxySpec: Sendable, Hashable {
  public enum HTTPS: String, Sendable, Hashable, CaseIterable {
    /// Plain HTTP on `httpPort` only.
    case off
    /// Certificates from an ACME CA (Let's Encrypt) for `hosts`.
    case auto
    /// Certificates from Caddy's own local CA, for `hosts` (clients must trust its root).
    case `internal`
  }

  /// The port the app listens on inside its container.
  public var appPort: Int
  /// The Host names the route answers; empty: any.
  public var hosts: [String]
  /// Only paths under this prefix (`/api` matches `/api` and `/api/…`); nil: every path.
  public var pathPrefix: String?
  /// Whether the prefix is taken off the path before the request reaches the app. Default true,
  /// as kamal-proxy does.
  public var stripPrefix: Bool
  public var https: HTTPS
  /// The host ports the proxy publishes. Defaults 80 and 443.
  public var httpPort: Int
  public var httpsPort: Int
  /// How long in-flight requests get on the old container after the switch. Default 30s.
  public var drain: Duration
  /// How long the proxy waits for the app's response headers. Default 60s.
  public var responseTimeout: Duration
  /// The proxy's image. Default `caddy:2`.
  public var image: ImageReference

  public init(
    appPort: Int, hosts: [String] = [], pathPrefix: String? = nil, stripPrefix: Bool = true,
    https: HTTPS = .off, httpPort: Int = 80, httpsPort: Int = 443, drain: Duration = .seconds(30),
    responseTimeout: Duration = .seconds(60), image: ImageReference = .caddy
  ) {
    self.appPort = appPort
    self.hosts = hosts
    self.pathPrefix = pathPrefix
    self.stripPrefix = stripPrefix
    self.https = https
    self.httpPort = httpPort
    self.httpsPort = httpsPort
    self.drain = drain
    self.responseTimeout = responseTimeout
    self.image = image
  }

  /// What the route claims on a host's proxy: one key per Host name (`*` for any) with the path
  /// prefix. Two apps whose claims meet would take each other's requests.
  public var claims: [String] { Self.claims(hosts: hosts, pathPrefix: pathPrefix) }

  /// The claims of a route with these `hosts` and `pathPrefix` (a spec's, or one read back from a
  /// host).
  public static func claims(hosts: [String], pathPrefix: String?) -> [String] {
    (hosts.isEmpty ? ["*"] : hosts.map { $0.lowercased() }).map { "\($0)\(pathPrefix ?? "/")" }
  }

  /// The Host header verification sends to the proxy's `http_port`, so the checks reach this
  /// app: its first host name, a wildcard's first label replaced by `verify`
  /// (`*.example.com` → `verify.example.com`); empty without `hosts` (any Host name is routed).
  public var verificationHosts: [Int: String] {
    guard let first = hosts.first else { return [:] }
    return [httpPort: first.hasPrefix("*.") ? "verify" + first.dropFirst() : first]
  }

  /// A claim as messages show it: `shop.example.com/api`, or `(any host)/api`.
  public static func describe(claim: String) -> String {
    claim.hasPrefix("*/") ? "(any host)" + claim.dropFirst() : claim
  }

  /// `hosts` is a valid DNS name (`shop.example.com`, `*.example.com`), else why not.
  public static func hostNameProblem(_ name: String) -> String? {
    var labels = name.split(separator: ".", omittingEmptySubsequences: false)
    if labels.first == "*" { labels.removeFirst() }
    guard !labels.isEmpty, name.utf8.count <= 253 else {
      return "`\(name)` is not a host name like `shop.example.com`"
    }
    for label in labels {
      let bytes = Array(label.utf8)
      let valid =
        (1...63).contains(bytes.count) && bytes.first != UInt8(ascii: "-") && bytes.last != UInt8(ascii: "-")
        && bytes.allSatisfy {
          ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D
        }
      if !valid {
        return
          "`\(name)` is not a host name: each dot-separated part must be 1-63 letters, digits or `-`, not starting or ending with `-`"
      }
    }
    return nil
  }
}
