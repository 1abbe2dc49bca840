import ArgumentParser
import Foundation

/// `request-loop`: steady HTTP load against a few URLs while something else happens (a deploy),
/// and what every request saw, as JSON or text. The end-to-end tests (Tests/TestSupport's
/// `RequestLoop`), `scripts/bench-zero-downtime` and `make demo` share it (docs/testing.md).
@main
struct RequestLoopCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "request-loop",
    abstract:
      "Send about RATE requests a second to each URL, each on a new connection, and report what came back.",
    discussion: """
      Stops after --duration, when --until-file exists, or on SIGINT or SIGTERM (at most \
      --duration either way), then waits for the requests in flight and prints the report. \
      A failure is a refused, reset or timed-out request, or a 5xx answer.
      """)

  @Option(name: .customLong("url"), help: "A URL (http://ADDRESS:PORT/PATH); repeat for several.")
  var urls: [String]

  @Option(help: "Requests per second to each URL.")
  var rate: Double = 200

  @Option(
    help: "How long to send (e.g. 30s, 500ms, 2m); with --until-file, the most it waits for the file.",
    transform: parseDuration)
  var duration: Double = 600

  @Option(help: "Stop once this file exists.")
  var untilFile: String?

  @Option(name: .customLong("header"), help: "A request header, 'Name: value'; repeat for several.")
  var headers: [String] = []

  @Option(help: "Per request, connecting included.", transform: parseDuration)
  var timeout: Double = 2

  @Option(help: "text or json.")
  var output: OutputFormat = .text

  @Flag(help: "Add per-100-ms counts of successes and failures to the JSON.")
  var timeline = false

  enum OutputFormat: String, ExpressibleByArgument {
    case text, json
  }

  func validate() throws {
    guard !urls.isEmpty else { throw ValidationError("give at least one --url") }
    for url in urls where !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
      throw ValidationError("--url \(url): give an http:// or https:// URL")
    }
    guard rate > 0, rate <= 10_000 else { throw ValidationError("--rate \(rate): give 0 < RATE ≤ 10000") }
    guard duration > 0 else { throw ValidationError("--duration must be more than 0") }
    guard timeout > 0 else { throw ValidationError("--timeout must be more than 0") }
    for header in headers where !header.contains(":") {
      throw ValidationError("--header \(header): give 'Name: value'")
    }
  }

  func run() throws {
    let headerList = headers.isEmpty ? nil : try HeaderList(headers)
    let loop = RequestLoop(
      targets: urls.map { Target(url: $0, headers: headerList) }, rate: rate, timeout: timeout,
      duration: duration, untilFile: untilFile, bodyLimit: 256, keepsTimeline: timeline)
    let report = try loop.run()
    switch output {
    case .text:
      print(report.text)
    case .json:
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
      print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }
  }
}

/// `30s`, `500ms`, `2m`, `1.5s` or a bare number of seconds, in seconds.
func parseDuration(_ text: String) throws -> Double {
  let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
  for unit in units where text.hasSuffix(unit.suffix) {
    if let value = Double(text.dropLast(unit.suffix.count)), value >= 0 { return value * unit.seconds }
  }
  if let value = Double(text), value >= 0 { return value }
  throw ValidationError("'\(text)' is not a duration: give e.g. 30s, 500ms or 2m")
}
