import DeployConfig
import Foundation

/// `deployctl load-test URL`: `verify.load` against one URL given on the command line rather
/// than a host's published port, judged by the same limits (what `scripts/bench-load` measures).
public struct URLLoadTest: Sendable {
  /// `scheme://host[:port]`, what the requests connect to.
  public var baseURL: String
  /// The URL's path and query and the limits; the plan's defaults until changed.
  public var spec: LoadTestSpec

  /// Reads an `http://` or `https://` URL.
  public init(url: String) throws(ValueError) {
    guard let components = URLComponents(string: url), let scheme = components.scheme,
      let host = components.host, ["http", "https"].contains(scheme)
    else {
      throw ValueError("`\(url)` is not an http:// or https:// URL")
    }
    spec = LoadTestSpec(port: components.port ?? (scheme == "https" ? 443 : 80))
    spec.path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
    if let query = components.percentEncodedQuery { spec.path += "?" + query }
    // An IPv6 address needs its brackets back, unless Foundation kept them (it does on Linux).
    let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    baseURL = "\(scheme)://\(hostPart)" + (components.port.map { ":\($0)" } ?? "")
  }

  /// Sends `spec.requests` GETs and judges the figures; throws only what `LoadTest.run` throws.
  public func run() async throws -> LoadResult {
    let figures = try await LoadTest(spec).run(baseURL: baseURL)
    return LoadResult(figures: figures, verdict: spec.judge(figures))
  }
}
