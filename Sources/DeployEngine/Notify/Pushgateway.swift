import CCurl
import DeployConfig
import Foundation

/// `notify: [{pushgateway: …}]`: the run's metrics, PUT to a Prometheus Pushgateway in the group
/// job `deployctl`, environment and app, so each run replaces the last one's series
/// (docs/configuration.md "Notifications"). A push that fails is a warning, like any
/// notification.
struct PushgatewayPush: Sendable {
  var url: String
  var timeout: Duration

  /// The metrics of a run that ended, in Prometheus's text format.
  static func metrics(_ message: NotificationMessage, at now: Date) -> String {
    let command = "command=\"\(escape(message.command))\""
    var lines = [
      "# HELP deployctl_last_run_timestamp_seconds When the last deploy, promote or rollback ended.",
      "# TYPE deployctl_last_run_timestamp_seconds gauge",
      "deployctl_last_run_timestamp_seconds{\(command)} \(format(now.timeIntervalSince1970))",
      "# HELP deployctl_last_run_duration_seconds How long the last run took.",
      "# TYPE deployctl_last_run_duration_seconds gauge",
      "deployctl_last_run_duration_seconds{\(command)} \(format(Double(message.durationMs) / 1000))",
      "# HELP deployctl_last_run_success 1 when the last run succeeded (exit 0), else 0.",
      "# TYPE deployctl_last_run_success gauge",
      "deployctl_last_run_success{\(command)} \(message.result == CommandResult.success.rawValue ? 1 : 0)",
      "# HELP deployctl_last_run_hosts Hosts of the last run by how each ended.",
      "# TYPE deployctl_last_run_hosts gauge",
    ]
    for result in hostResults {
      lines.append(
        "deployctl_last_run_hosts{\(command),result=\"\(result.rawValue)\"} \(message.hostResults[result.rawValue] ?? 0)"
      )
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// Every way a host can end, each written (0 when none), so a series never lingers from an
  /// older run.
  static let hostResults: [HostResult] = [
    .deployed, .unchanged, .rolledBack, .failed, .unreachable, .skipped, .restoreFailed,
  ]

  /// `/metrics/job/deployctl/environment/ENV/app/APP` under the Pushgateway's URL.
  static func groupURL(base: String, environment: String, app: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    func segment(_ text: String) -> String {
      text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
    let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
    return "\(trimmed)/metrics/job/deployctl/environment/\(segment(environment))/app/\(segment(app))"
  }

  /// Pushes `body` to the group; nil when the Pushgateway took it, else why not.
  func push(_ message: NotificationMessage, now: Date = Date()) async -> String? {
    let body = Self.metrics(message, at: now)
    let target = Self.groupURL(base: url, environment: message.environment, app: message.app)
    let outcome: CurlTransferOutcome
    do {
      outcome = try await put(target, body: body)
    } catch {
      return "pushgateway was not sent: \(error)"
    }
    switch outcome {
    case .response(let status, _, _) where (200..<300).contains(status):
      return nil
    case .response(let status, let bytes, _):
      let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
      return "pushgateway answered HTTP \(status)" + (text.isEmpty ? "" : ": \(text.prefix(200))")
    case .failed(let error, let code, let osErrno):
      return "pushgateway could not be reached: \(ProbeFailure(code: code, osErrno: osErrno, error: error))"
    case .cancelled:
      return "pushgateway was not sent: the run was interrupted"
    }
  }

  private func put(_ target: String, body: String) async throws(HealthError) -> CurlTransferOutcome {
    let lower = target.lowercased()
    guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
      throw .invalidURL("(the Pushgateway URL)", reason: "only http:// and https:// URLs are used")
    }
    let easy = try CurlEasy(bodyLimit: 1024)
    try easy.set(CURLOPT_URL, target, "CURLOPT_URL")
    try easy.set(CURLOPT_PROTOCOLS_STR, "http,https", "CURLOPT_PROTOCOLS_STR")
    try easy.set(CURLOPT_FOLLOWLOCATION, 0, "CURLOPT_FOLLOWLOCATION")
    try easy.set(CURLOPT_PROXY, "", "CURLOPT_PROXY")
    try easy.set(CURLOPT_NOPROXY, "*", "CURLOPT_NOPROXY")
    try easy.set(CURLOPT_TIMEOUT_MS, timeout.wholeMilliseconds, "CURLOPT_TIMEOUT_MS")
    try easy.set(CURLOPT_CONNECTTIMEOUT_MS, timeout.wholeMilliseconds, "CURLOPT_CONNECTTIMEOUT_MS")
    try easy.set(CURLOPT_NOSIGNAL, 1, "CURLOPT_NOSIGNAL")
    try easy.set(CURLOPT_USERAGENT, "deployctl-notify/1", "CURLOPT_USERAGENT")
    try easy.setPost(body: body, headers: ["Content-Type: text/plain; version=0.0.4", "Expect:"])
    // PUT replaces the whole group: series of an older run do not linger.
    try easy.set(CURLOPT_CUSTOMREQUEST, "PUT", "CURLOPT_CUSTOMREQUEST")
    let loop = try CurlTransferLoop.shared()
    return await loop.perform(CurlTransfer(easy))
  }

  /// A label value in the text format: backslash, double quote and newline escaped.
  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
      .replacingOccurrences(of: "\n", with: "\\n")
  }

  static func format(_ value: Double) -> String {
    String(format: "%.3f", value)
  }
}
