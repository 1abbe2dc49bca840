import ArgumentParser
import DeployConfig
import DeployEngine
import DeployKit
import Foundation

extension DeployCtl {
  /// `verify.load` on its own, against one URL: what `scripts/bench-load` measures. Hidden: it
  /// is a tool for benchmarks and for trying limits out, not part of a deploy.
  struct LoadTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "load-test",
      abstract: "Run the plan's load test (verify.load) against one URL and print its figures.",
      discussion: """
        Sends exactly --requests GETs with --concurrency in flight, as `verify.load` does on each
        host. Exit 0 when the run passes --max-error-rate and --p95, 1 otherwise.

        Example:
          deployctl load-test http://127.0.0.1:8080/healthz --requests 2000 --concurrency 20 --p95 250ms
        """,
      shouldDisplay: false
    )

    @Argument(help: "The URL (http:// or https://).")
    var url: String

    @Option(help: "Requests to send.")
    var requests = 1000

    @Option(help: "Requests in flight at once.")
    var concurrency = 10

    @Option(
      name: .customLong("max-error-rate"), help: "Highest share of failed requests that passes, e.g. 1%.")
    var maxErrorRate = "1%"

    @Option(help: "The 95th percentile latency must be below this, e.g. 250ms.")
    var p95: String?

    @Option(help: "Output format: text or json.")
    var output = "text"

    func run() async throws {
      guard let components = URLComponents(string: url), let scheme = components.scheme,
        let host = components.host, ["http", "https"].contains(scheme)
      else {
        throw ValidationError("`\(url)` is not an http:// or https:// URL")
      }
      guard (1...10_000_000).contains(requests), (1...1000).contains(concurrency) else {
        throw ValidationError("--requests must be 1-10000000 and --concurrency 1-1000")
      }
      guard ["text", "json"].contains(output) else { throw ValidationError("--output must be text or json") }
      var spec = LoadTestSpec(
        port: components.port ?? (scheme == "https" ? 443 : 80), requests: requests, concurrency: concurrency)
      do {
        spec.maxErrorRate = try LoadTestLimits.errorRate(maxErrorRate)
        spec.p95 = try p95.map { text throws(ValueError) in try Duration(parsing: text) }
      } catch {
        throw ValidationError(error.message)
      }
      spec.path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
      if let query = components.percentEncodedQuery { spec.path += "?" + query }
      let hostPart = host.contains(":") ? "[\(host)]" : host
      let base = "\(scheme)://\(hostPart)" + (components.port.map { ":\($0)" } ?? "")
      let figures = try await LoadTest(spec).run(baseURL: base)
      let verdict = spec.judge(figures)
      if output == "json" {
        print(LoadResult(figures: figures, verdict: verdict).jsonString())
      } else {
        print(figures.summary)
        for reason in verdict.reasons { print("failed: \(reason)") }
      }
      if !verdict.passed { throw ExitCode(1) }
    }
  }
}
