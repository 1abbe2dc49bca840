import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The `request-loop` binary (Sources/request-loop) run around a test's action: steady HTTP load
/// on some URLs while the action (a deploy, a rollback) runs, then its report, so a test can
/// assert what a user's clients saw: no failed request, which bodies answered.
public enum RequestLoop {
  /// The built binary: next to the test bundle (`swift build --build-tests` builds it), or in
  /// the package's `.build/debug`.
  public static func binary() throws -> String {
    let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let packageRoot = URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let candidates = [
      runner.deletingLastPathComponent().appendingPathComponent("request-loop").path,
      packageRoot.appendingPathComponent(".build/debug/request-loop").path,
    ]
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
      throw TestSupportError(
        "request-loop is not built (looked at \(candidates.joined(separator: ", "))): run `swift build --build-tests`"
      )
    }
    return found
  }

  /// Starts the loop on `urls` (`rate` requests a second to each, `headers` on every request),
  /// lets it run for `warmUp` (so it is sending when the action starts), runs `action`, then
  /// stops the loop and returns the action's result and the loop's report. The loop is stopped
  /// also when `action` throws; it never outlives `limit`.
  public static func around<T>(
    _ urls: [String], rate: Int = 200, headers: [String] = [], timeout: Duration = .seconds(2),
    limit: Duration = .seconds(600), warmUp: Duration = .milliseconds(300), timeline: Bool = false,
    _ action: () async throws -> T
  ) async throws -> (T, RequestLoopReport) {
    let folder = try makeTemporaryDirectory("request-loop")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let stopFile = folder + "/stop"
    var arguments = urls.flatMap { ["--url", $0] } + headers.flatMap { ["--header", $0] }
    arguments += [
      "--rate", String(rate), "--timeout", "\(timeout.components.seconds)s", "--duration",
      "\(limit.components.seconds)s", "--until-file", stopFile, "--output", "json",
    ]
    if timeline { arguments.append("--timeline") }
    let program = try RunningProgram.start(try binary(), arguments)
    let result: T
    do {
      try await Task.sleep(for: warmUp)
      result = try await action()
    } catch {
      program.process.signal(SIGTERM)
      _ = await program.finish(timeout: timeout + .seconds(10))
      throw error
    }
    if !FileManager.default.createFile(atPath: stopFile, contents: nil) {
      program.process.signal(SIGTERM)  // stops it just as well; the report says `signal`
    }
    let finished = await program.finish(timeout: timeout + .seconds(10))
    guard finished.status == 0 else {
      throw TestSupportError("request-loop exited \(finished.status): \(finished.stderr)")
    }
    return (result, try RequestLoopReport.decode(finished.stdout))
  }
}

/// `request-loop --output json` (docs/testing.md "Request loop").
public struct RequestLoopReport: Decodable, Sendable {
  public var ratePerURL: Double
  public var durationSeconds: Double
  /// `duration`, `until_file` or `signal`.
  public var stoppedBy: String
  public var urls: [Summary]
  public var total: Summary

  // Spelled out: a key strategy would rewrite the keys of `bodies` and `statuses` too.
  enum CodingKeys: String, CodingKey {
    case ratePerURL = "rate_per_url", durationSeconds = "duration_seconds", stoppedBy = "stopped_by", urls,
      total
  }

  public struct Summary: Decodable, Sendable {
    public var url: String?
    public var requests: Int
    public var ok: Int
    public var failures: Int
    /// `refused`, `reset`, `empty_reply`, `timeout`, `connect`, `http_5xx`, `other`.
    public var failuresByKind: [String: Int]
    public var statuses: [String: Int]
    /// Distinct answer bodies (their first 256 bytes) and how many times each came.
    public var bodies: [String: Int]
    public var longestGapMs: Double
    public var latencyMs: Latency
    public var timeline: [Bucket]?

    enum CodingKeys: String, CodingKey {
      case url, requests, ok, failures, failuresByKind = "failures_by_kind", statuses, bodies
      case longestGapMs = "longest_gap_ms", latencyMs = "latency_ms", timeline
    }
  }

  public struct Latency: Decodable, Sendable {
    public var p50: Double
    public var p99: Double
    public var max: Double
    /// The highest p99 of any whole second of the run.
    public var worstSecondP99: Double

    enum CodingKeys: String, CodingKey {
      case p50, p99, max, worstSecondP99 = "worst_second_p99"
    }
  }

  public struct Bucket: Decodable, Sendable {
    public var startMs: Int
    public var ok: Int
    public var failed: Int

    enum CodingKeys: String, CodingKey {
      case startMs = "start_ms", ok, failed
    }
  }

  public static func decode(_ json: String) throws -> RequestLoopReport {
    let decoder = JSONDecoder()
    do {
      return try decoder.decode(RequestLoopReport.self, from: Data(json.utf8))
    } catch {
      throw TestSupportError("request-loop's report does not decode (\(error)): \(json.prefix(400))")
    }
  }
}
