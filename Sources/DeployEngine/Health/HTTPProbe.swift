import CCurl
import Foundation

/// One HTTP GET against an application's health endpoint, judged by its status code and,
/// optionally, a substring of its body.
///
/// Deliberate choices, because health traffic must go only where the plan says:
/// - Redirects are NOT followed by default: a 301/302 is judged as that status (expect 200 and
///   it is unhealthy). `followRedirects` opts in, still limited to http/https.
/// - No proxy, whatever `http_proxy`/`https_proxy`/`all_proxy` say (`CURLOPT_PROXY ""`,
///   `CURLOPT_NOPROXY "*"`).
/// - Only the http and https protocols (`CURLOPT_PROTOCOLS_STR`).
/// - A fresh connection per probe (`CURLOPT_FORBID_REUSE`): a probe proves the app accepts
///   connections now, not that an old keep-alive socket still works.
/// - TLS certificates are verified as usual.
///
/// Probes run on `CurlTransferLoop`'s own thread; `run()` suspends without blocking the
/// cooperative pool and ends promptly with `CancellationError` when its task is cancelled.
public struct HTTPProbe: Sendable, Hashable {
  public var url: String
  /// The status that means healthy.
  public var expectStatus: Int
  /// If set, the body's first `bodyLimit` bytes must contain this text.
  public var bodyContains: String?
  /// Whole request, connect included.
  public var timeout: Duration
  /// Connection set-up only; nil: `timeout`.
  public var connectTimeout: Duration?
  public var followRedirects: Bool
  /// How much of the body is kept (and matched against `bodyContains`).
  public var bodyLimit: Int
  /// The Host header, when not the URL's (a check through the proxy of an app with `hosts:`).
  public var hostHeader: String?

  public static let defaultBodyLimit = 4096

  public init(
    url: String, expectStatus: Int = 200, bodyContains: String? = nil, timeout: Duration = .seconds(2),
    connectTimeout: Duration? = nil, followRedirects: Bool = false,
    bodyLimit: Int = HTTPProbe.defaultBodyLimit
  ) throws(HealthError) {
    let lower = url.lowercased()
    guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
      throw .invalidURL(url, reason: "only http:// and https:// are probed")
    }
    guard !url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
      throw .invalidURL(url, reason: "it contains spaces or control characters")
    }
    guard (100...599).contains(expectStatus) else {
      throw .invalidURL(url, reason: "expected status \(expectStatus) is not an HTTP status (100-599)")
    }
    guard timeout > .zero, connectTimeout.map({ $0 > .zero }) ?? true else {
      throw .invalidPolicy("probe timeouts must be positive")
    }
    self.url = url
    self.expectStatus = expectStatus
    self.bodyContains = bodyContains
    self.timeout = timeout
    self.connectTimeout = connectTimeout
    self.followRedirects = followRedirects
    self.bodyLimit = max(0, bodyLimit)
  }

  /// `http://HOST:PORT/PATH`, with an IPv6 address in brackets and a missing leading `/` added.
  public static func url(host: String, port: Int, path: String = "/", tls: Bool = false) -> String {
    let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    let pathPart = path.hasPrefix("/") ? path : "/" + path
    return "\(tls ? "https" : "http")://\(hostPart):\(port)\(pathPart)"
  }

  /// Probes once. Returns the verdict for anything the server (or the network) did; throws only
  /// `CancellationError` and `HealthError` for a libcurl set-up failure.
  public func run() async throws -> ProbeResult {
    try Task.checkCancellation()
    let easy = try CurlEasy(bodyLimit: bodyLimit)
    try configure(easy)
    let loop = try CurlTransferLoop.shared()
    let clock = ContinuousClock()
    let started = clock.now
    let outcome = await loop.perform(CurlTransfer(easy))
    let duration = clock.now - started
    switch outcome {
    case .cancelled:
      throw CancellationError()
    case .response(let status, let bytes, _):
      return judge(status: status, body: String(decoding: bytes, as: UTF8.self), duration: duration)
    case .failed(let error, let code, let osErrno):
      let failure = ProbeFailure(code: code, osErrno: osErrno, error: error)
      return ProbeResult(
        healthy: false, status: nil, failure: failure, reason: failure.description, body: "",
        duration: duration)
    }
  }

  func judge(status: Int, body: String, duration: Duration) -> ProbeResult {
    var reason = "HTTP \(status)"
    var healthy = true
    if status != expectStatus {
      healthy = false
      reason += ", expected \(expectStatus)"
    } else if let needle = bodyContains, !body.contains(needle) {
      healthy = false
      reason += ", but the body does not contain \"\(needle)\""
    }
    return ProbeResult(
      healthy: healthy, status: status, failure: nil, reason: reason, body: body, duration: duration)
  }

  private func configure(_ easy: CurlEasy) throws(HealthError) {
    try easy.set(CURLOPT_URL, url, "CURLOPT_URL")
    try easy.set(CURLOPT_HTTPGET, 1, "CURLOPT_HTTPGET")
    try easy.set(CURLOPT_PROTOCOLS_STR, "http,https", "CURLOPT_PROTOCOLS_STR")
    try easy.set(CURLOPT_REDIR_PROTOCOLS_STR, "http,https", "CURLOPT_REDIR_PROTOCOLS_STR")
    try easy.set(CURLOPT_FOLLOWLOCATION, followRedirects ? 1 : 0, "CURLOPT_FOLLOWLOCATION")
    try easy.set(CURLOPT_MAXREDIRS, 5, "CURLOPT_MAXREDIRS")
    try easy.set(CURLOPT_PROXY, "", "CURLOPT_PROXY")
    try easy.set(CURLOPT_NOPROXY, "*", "CURLOPT_NOPROXY")
    try easy.set(CURLOPT_TIMEOUT_MS, timeout.wholeMilliseconds, "CURLOPT_TIMEOUT_MS")
    try easy.set(
      CURLOPT_CONNECTTIMEOUT_MS, (connectTimeout ?? timeout).wholeMilliseconds, "CURLOPT_CONNECTTIMEOUT_MS")
    // Signals are process-wide; with several threads libcurl must not use them for timeouts.
    try easy.set(CURLOPT_NOSIGNAL, 1, "CURLOPT_NOSIGNAL")
    try easy.set(CURLOPT_FORBID_REUSE, 1, "CURLOPT_FORBID_REUSE")
    try easy.set(CURLOPT_USERAGENT, "deployctl-health/1", "CURLOPT_USERAGENT")
    try easy.setHostHeader(hostHeader)
  }
}

/// The verdict of one probe, HTTP or not.
public struct ProbeResult: Sendable, Equatable {
  public var healthy: Bool
  /// The HTTP status when a response came back.
  public var status: Int?
  /// Why no response came back (nil when one did, or for a non-HTTP probe's plain verdict).
  public var failure: ProbeFailure?
  /// One line for people: "HTTP 200", "HTTP 500, expected 200", "connection refused (…)".
  public var reason: String
  /// The first bytes of the body (at most the probe's `bodyLimit`), decoded as UTF-8.
  public var body: String
  public var duration: Duration

  public init(
    healthy: Bool, status: Int? = nil, failure: ProbeFailure? = nil, reason: String, body: String = "",
    duration: Duration = .zero
  ) {
    self.healthy = healthy
    self.status = status
    self.failure = failure
    self.reason = reason
    self.body = body
    self.duration = duration
  }

  /// A passing verdict from a non-HTTP probe (e.g. "docker health status: healthy").
  public static func healthy(_ reason: String, duration: Duration = .zero) -> ProbeResult {
    ProbeResult(healthy: true, reason: reason, duration: duration)
  }

  /// No verdict yet from a non-HTTP probe (e.g. "docker health status: starting"): it does
  /// not count towards `retries`.
  public static func pending(_ reason: String) -> ProbeResult {
    ProbeResult(healthy: false, failure: .pending(reason), reason: reason)
  }

  /// A failing verdict from a non-HTTP probe (e.g. "docker health status: unhealthy").
  public static func unhealthy(_ reason: String, duration: Duration = .zero) -> ProbeResult {
    ProbeResult(healthy: false, reason: reason, duration: duration)
  }
}

/// Why a probe got no HTTP response.
public enum ProbeFailure: Sendable, Equatable, CustomStringConvertible {
  /// Nothing listens on the port (ECONNREFUSED).
  case connectionRefused(detail: String)
  /// Connect or whole-request timeout.
  case timedOut(detail: String)
  case hostNotFound(detail: String)
  /// The server closed the connection without a response.
  case emptyResponse(detail: String)
  case tls(detail: String)
  /// Any other libcurl transfer error.
  case transport(code: Int, message: String)
  /// A non-HTTP probe threw; its error text.
  case probeError(String)
  /// Not a verdict yet (Docker's HEALTHCHECK still `starting`, a `running:` check not yet up
  /// long enough): not counted towards `retries`.
  case pending(String)

  init(code: CURLcode, osErrno: Int32, error: HealthError) {
    let detail = error.curlDetail
    switch code {
    case CURLE_COULDNT_CONNECT where osErrno == ECONNREFUSED:
      self = .connectionRefused(detail: detail)
    case CURLE_OPERATION_TIMEDOUT:
      self = .timedOut(detail: detail)
    case CURLE_COULDNT_RESOLVE_HOST:
      self = .hostNotFound(detail: detail)
    case CURLE_GOT_NOTHING:
      self = .emptyResponse(detail: detail)
    case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
      CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ENGINE_NOTFOUND:
      self = .tls(detail: detail)
    default:
      self = .transport(code: Int(code.rawValue), message: error.description)
    }
  }

  public var description: String {
    func with(_ what: String, _ detail: String) -> String { detail.isEmpty ? what : "\(what) (\(detail))" }
    switch self {
    case .connectionRefused(let detail): return with("connection refused", detail)
    case .timedOut(let detail): return with("timed out", detail)
    case .hostNotFound(let detail): return with("host not found", detail)
    case .emptyResponse(let detail): return with("empty response", detail)
    case .tls(let detail): return with("TLS failure", detail)
    case .transport(_, let message): return message
    case .probeError(let message): return "probe failed: \(message)"
    case .pending(let why): return why
    }
  }
}

extension HealthError {
  /// The most specific text libcurl gave: its error buffer, else its code's message.
  fileprivate var curlDetail: String {
    switch self {
    case .curl(_, _, let message, let detail): return detail.isEmpty ? message : detail
    default: return description
    }
  }
}

extension Duration {
  /// Rounded up, so a sub-millisecond timeout never becomes libcurl's "0 = no timeout".
  var wholeMilliseconds: Int {
    let (seconds, attoseconds) = components
    let millis = seconds * 1000 + attoseconds / 1_000_000_000_000_000
    let remainder = attoseconds % 1_000_000_000_000_000
    return Int(millis + (remainder > 0 ? 1 : 0))
  }
}
