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

    @Argument(help: "The URL (http:// or https://).", transform: parsed(URLLoadTest.init(url:)))
    var url: URLLoadTest

    @Option(help: "Requests to send.")
    var requests = 1000

    @Option(help: "Requests in flight at once.")
    var concurrency = 10

    @Option(
      name: .customLong("max-error-rate"),
      help: ArgumentHelp("Highest share of failed requests that passes (default: 1%).", valueName: "percent"),
      transform: parsed(LoadTestLimits.errorRate))
    var maxErrorRate: Double?

    @Option(
      help: ArgumentHelp(
        "The 95th percentile latency must be below this, e.g. 250ms.", valueName: "duration"),
      transform: Duration.argument)
    var p95: Duration?

    @Option(help: "Output format: text or json.")
    var output: OutputFormat = .text

    func validate() throws {
      guard (1...10_000_000).contains(requests), (1...1000).contains(concurrency) else {
        throw ValidationError("--requests must be 1-10000000 and --concurrency 1-1000")
      }
    }

    func run() async throws {
      var test = url
      test.spec.requests = requests
      test.spec.concurrency = concurrency
      if let maxErrorRate { test.spec.maxErrorRate = maxErrorRate }
      test.spec.p95 = p95
      let result = try await test.run()
      switch output {
      case .json:
        print(result.jsonString())
      case .text:
        print(result.figures.summary)
        for reason in result.verdict.reasons { print("failed: \(reason)") }
      }
      if !result.verdict.passed { throw ExitCode(1) }
    }
  }
}
