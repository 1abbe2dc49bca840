import CCurl
import DeployConfig
import Foundation

/// Sends the plan's `notify:` entries when deploy, promote or rollback ends: a readable Slack
/// message, or the command's JSON document POSTed to a webhook. Both through libcurl on the
/// process's transfer loop, each limited to `timeout` (10 s). A notification that cannot be
/// sent is a `failed` result, never a thrown error: it is a warning and never changes the exit
/// code. Secret values (the webhook URLs among them) are masked in everything sent and in the
/// results' errors.
public struct Notifier: Sendable {
  public var targets: [NotifyTarget]
  /// The values of the targets' secrets (`secretValues(in:)`): the URLs.
  public var urls: [String: String]
  public var masker: SecretMasker
  public var timeout: Duration

  /// `secrets`: every secret value of the run (the plan's container secrets too), masked in
  /// what is sent.
  public init(
    targets: [NotifyTarget], urls: [String: String], secrets: [String] = [], timeout: Duration = .seconds(10)
  ) {
    self.targets = targets
    self.urls = urls
    self.masker = SecretMasker(secrets: secrets + Array(urls.values))
    self.timeout = timeout
  }

  /// Sends every notification at once and returns their results in plan order. `report` is the
  /// command's JSON document (what a webhook gets).
  public func send(_ message: NotificationMessage, report: String) async -> [NotificationResult] {
    await withTaskGroup(of: (Int, NotificationResult).self) { group in
      for (i, target) in targets.enumerated() {
        group.addTask {
          (i, await self.send(target, message: message, report: report))
        }
      }
      var results: [(Int, NotificationResult)] = []
      for await result in group { results.append(result) }
      return results.sorted { $0.0 < $1.0 }.map(\.1)
    }
  }

  private func send(_ target: NotifyTarget, message: NotificationMessage, report: String) async
    -> NotificationResult
  {
    let clock = ContinuousClock()
    let started = clock.now
    func result(_ error: String?) -> NotificationResult {
      NotificationResult(
        name: target.kind, result: error == nil ? .sent : .failed,
        durationMs: (clock.now - started).milliseconds,
        error: error.map { masker.mask($0) })
    }
    let url: String
    switch target {
    case .pushgateway(.literal(let literal)): url = literal
    default:
      guard let name = target.secretName, let value = urls[name], !value.isEmpty else {
        return result("\(target.secretName ?? target.kind) is not set in deployctl's environment")
      }
      url = value
    }
    let body: String
    switch target {
    case .slack:
      body = SlackPayload(text: masker.mask(message.slackText)).jsonString()
    case .webhook:
      body = masker.mask(report)
    case .pushgateway:
      return result(await PushgatewayPush(url: url, timeout: timeout).push(message))
    }
    do {
      let response = try await post(url: url, body: body)
      switch response {
      case .response(let status, let bytes, _) where (200..<300).contains(status):
        _ = bytes
        return result(nil)
      case .response(let status, let bytes, _):
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return result(
          "\(target.kind) answered HTTP \(status)" + (text.isEmpty ? "" : ": \(text.prefix(200))"))
      case .failed(let error, let code, let osErrno):
        let failure = ProbeFailure(code: code, osErrno: osErrno, error: error)
        return result("\(target.kind) could not be reached: \(failure)")
      case .cancelled:
        return result("\(target.kind) was not sent: the run was interrupted")
      }
    } catch {
      return result("\(target.kind) was not sent: \(error)")
    }
  }

  private func post(url: String, body: String) async throws(HealthError) -> CurlTransferOutcome {
    let lower = url.lowercased()
    guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
      throw .invalidURL("(the secret's value)", reason: "only http:// and https:// URLs are used")
    }
    let easy = try CurlEasy(bodyLimit: 1024)
    try easy.set(CURLOPT_URL, url, "CURLOPT_URL")
    try easy.set(CURLOPT_PROTOCOLS_STR, "http,https", "CURLOPT_PROTOCOLS_STR")
    try easy.set(CURLOPT_FOLLOWLOCATION, 0, "CURLOPT_FOLLOWLOCATION")
    try easy.set(CURLOPT_TIMEOUT_MS, timeout.wholeMilliseconds, "CURLOPT_TIMEOUT_MS")
    try easy.set(CURLOPT_CONNECTTIMEOUT_MS, timeout.wholeMilliseconds, "CURLOPT_CONNECTTIMEOUT_MS")
    try easy.set(CURLOPT_NOSIGNAL, 1, "CURLOPT_NOSIGNAL")
    try easy.set(CURLOPT_USERAGENT, "deployctl-notify/1", "CURLOPT_USERAGENT")
    try easy.setPost(body: body, headers: ["Content-Type: application/json", "Expect:"])
    let loop = try CurlTransferLoop.shared()
    return await loop.perform(CurlTransfer(easy))
  }
}

extension Array where Element == NotifyTarget {
  /// The URLs the targets name, from deployctl's own environment. A missing one refuses the run
  /// before anything changes (exit 2), with the message `container.secrets` gives.
  public func secretValues(in environment: [String: String]) throws -> [String: String] {
    var names: [String] = []
    for name in compactMap(\.secretName) where !names.contains(name) { names.append(name) }
    let missing = names.filter { environment[$0] == nil }
    guard missing.isEmpty else {
      throw RolloutError.secretsNotSet(missing)
    }
    return environment.filter { names.contains($0.key) }
  }
}

struct SlackPayload: Encodable {
  var text: String
}

/// What the Slack message says about the run. The engine fills it from the command's report.
public struct NotificationMessage: Sendable, Equatable {
  /// `deploy`, `promote` or `rollback`.
  public var command: String
  public var environment: String
  public var app: String
  public var release: String?
  /// The tag asked for (`v2`), nil when a digest was given or promoted.
  public var tag: String?
  /// `repo@sha256:…`.
  public var image: String?
  /// `success`, `failed`, `needs_attention`, …
  public var result: String
  public var hostsDone: [String]
  public var hostsFailed: [String]
  public var user: String
  public var durationMs: Int
  public var error: String?
  /// Hosts by how each ended (`deployed`, `rolled_back`, …), for the Pushgateway's metrics.
  public var hostResults: [String: Int] = [:]

  public init(
    command: String, environment: String, app: String, release: String?, tag: String?, image: String?,
    result: String, hostsDone: [String], hostsFailed: [String], user: String, durationMs: Int,
    error: String? = nil
  ) {
    self.command = command
    self.environment = environment
    self.app = app
    self.release = release
    self.tag = tag
    self.image = image
    self.result = result
    self.hostsDone = hostsDone
    self.hostsFailed = hostsFailed
    self.user = user
    self.durationMs = durationMs
    self.error = error
  }

  /// From the command's report: hosts that run the release count as done, hosts that failed,
  /// were unreachable, rolled back or could not be restored as failed.
  public init(report: CommandReport, tag: String?, user: String) {
    self.init(
      command: report.command, environment: report.environment ?? "", app: report.app ?? "",
      release: report.release?.id, tag: tag, image: report.release?.image, result: report.result.rawValue,
      hostsDone: report.hosts.filter { [.deployed, .unchanged].contains($0.result) }.map(\.name),
      hostsFailed: report.hosts.filter {
        [.failed, .unreachable, .rolledBack, .restoreFailed].contains($0.result)
      }
      .map(\.name),
      user: user, durationMs: report.durationMs, error: report.error)
    for host in report.hosts { hostResults[host.result.rawValue, default: 0] += 1 }
  }

  /// `sha256:` and the first 12 hex digits of the image's digest.
  public var shortDigest: String? {
    guard let image, let at = image.range(of: "@sha256:") else { return nil }
    return "sha256:" + image[at.upperBound...].prefix(12)
  }

  /// The Slack text:
  ///
  ///     deploy web to prod: success
  ///     release 20261130-0150-ab12 · tag v2 · sha256:0123456789ab
  ///     hosts: 2 done (web1, web2), 0 failed
  ///     by alice in 1m 23s
  public var slackText: String {
    var lines = ["*\(command) \(app) to \(environment): \(result)*"]
    var release = ["release \(self.release ?? "none")"]
    if let tag { release.append("tag \(tag)") }
    if let shortDigest { release.append(shortDigest) }
    lines.append(release.joined(separator: " · "))
    func names(_ hosts: [String]) -> String { hosts.isEmpty ? "" : " (\(hosts.joined(separator: ", ")))" }
    lines.append(
      "hosts: \(hostsDone.count) done\(names(hostsDone)), \(hostsFailed.count) failed\(names(hostsFailed))")
    if let error { lines.append("error: \(error)") }
    lines.append("by \(user) in \(Self.readable(durationMs))")
    return lines.joined(separator: "\n")
  }

  static func readable(_ ms: Int) -> String {
    if ms < 1000 { return "\(ms)ms" }
    let seconds = ms / 1000
    if seconds < 60 { return "\(seconds)s" }
    if seconds < 3600 { return "\(seconds / 60)m \(seconds % 60)s" }
    return "\(seconds / 3600)h \(seconds % 3600 / 60)m"
  }
}

/// One notification's outcome (JSON `notifications[]`).
public struct NotificationResult: Codable, Sendable, Equatable {
  public enum Outcome: String, Codable, Sendable {
    case sent
    case failed
  }

  /// `slack`, `webhook` or `pushgateway`.
  public var name: String
  public var result: Outcome
  public var durationMs: Int
  /// Why it was not sent (a warning), with secret values masked.
  public var error: String?

  public init(name: String, result: Outcome, durationMs: Int, error: String?) {
    self.name = name
    self.result = result
    self.durationMs = durationMs
    self.error = error
  }

  enum CodingKeys: String, CodingKey {
    case name, result, error
    case durationMs = "duration_ms"
  }

  /// `warning: slack notification not sent: …` for the text output.
  public var warning: String? { error.map { "warning: \(name) notification not sent: \($0)" } }
}
