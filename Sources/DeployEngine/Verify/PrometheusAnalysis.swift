import DeployConfig
import DeployTransport
import Foundation

/// The bake window of `verify.prometheus`: every query, once per interval, for the window's
/// length, through Prometheus's HTTP API (`/api/v1/query`) on the process's libcurl loop. It runs
/// once per environment, after every host's smoke checks and load test passed
/// (docs/configuration.md "Prometheus analysis").
///
/// A measurement fails when the value breaks `max`/`min`, when there is no result, or when
/// Prometheus rejects the query (its own message is kept). A query with more failed
/// measurements than its `failure_limit` fails the window at once. A Prometheus that cannot be
/// reached, or answers something that is not its API, fails the window too: it is never a pass.
/// A stop request (SIGINT) ends the window at once, as a failure.
public struct PrometheusAnalysis: Sendable {
  public var spec: PrometheusSpec
  /// The URL (a secret's value when the plan names one).
  public var url: String
  /// `${app}`, `${environment}`, `${release}`.
  public var variables: [String: String]
  public var stop: StopRequest
  /// Opens a port forward to `host:port` as seen from the first host (`via: ssh`).
  public var forward: (@Sendable (_ port: Int, _ host: String) async throws -> PortForward)?
  /// Called with each measurement as it is taken (progress lines).
  public var observe: (@Sendable (String, PrometheusMeasurement) async -> Void)?

  public init(
    spec: PrometheusSpec, url: String, variables: [String: String], stop: StopRequest,
    forward: (@Sendable (_ port: Int, _ host: String) async throws -> PortForward)? = nil,
    observe: (@Sendable (String, PrometheusMeasurement) async -> Void)? = nil
  ) {
    self.spec = spec
    self.url = url
    self.variables = variables
    self.stop = stop
    self.forward = forward
    self.observe = observe
  }

  /// Fills `${app}`, `${environment}` and `${release}` into `query`.
  public static func substitute(_ query: String, _ variables: [String: String]) -> String {
    variables.reduce(query) { text, variable in
      text.replacingOccurrences(of: "${\(variable.key)}", with: variable.value)
    }
  }

  public func run() async -> PrometheusVerification {
    let clock = ContinuousClock()
    let started = clock.now
    var results = spec.queries.map {
      PrometheusQueryResult(spec: $0, query: Self.substitute($0.query, variables))
    }
    var report = PrometheusVerification(
      via: spec.via, passed: false, intervalMs: spec.interval.milliseconds,
      windowMs: spec.duration.milliseconds,
      queries: results)
    func end(_ error: String?) -> PrometheusVerification {
      report.queries = results
      report.error = error
      report.passed = error == nil && results.allSatisfy(\.passed)
      report.durationMs = (clock.now - started).milliseconds
      return report
    }
    let base: String
    var opened: PortForward?
    do {
      (base, opened) = try await reach()
    } catch {
      return end(
        "Prometheus at \(Self.shown(spec.url, url)) could not be reached through the first host's SSH connection: \(error)"
      )
    }
    defer { if let opened { Task { await opened.close() } } }
    for round in 1...spec.rounds {
      if let signal = await stop.wait(until: started + spec.interval * round) {
        return end("interrupted by \(signal) during the bake window")
      }
      for i in results.indices {
        let measured: Measured
        do {
          let query = results[i]
          measured = try await untilStopped { try await measure(query, base: base) }
        } catch {
          return end("interrupted by \(stop.requested ?? "a stop request") during the bake window")
        }
        switch measured {
        case .unreachable(let why):
          return end(
            "Prometheus at \(Self.shown(spec.url, url)) could not be reached: \(why); the release is not judged a pass without it"
          )
        case .measured(let measurement):
          results[i].record(measurement)
          await observe?(results[i].name, measurement)
        }
      }
      // A query past its limit cannot pass any more: stop the window there.
      if results.contains(where: { !$0.passed }) { return end(nil) }
    }
    return end(nil)
  }

  /// The URL as shown in messages: a secret's value never is.
  static func shown(_ endpoint: EndpointURL, _ url: String) -> String {
    switch endpoint {
    case .literal: url
    case .secret(let name): "(the URL in \(name))"
    }
  }

  enum Measured {
    case measured(PrometheusMeasurement)
    case unreachable(String)
  }

  /// One query, once.
  private func measure(_ query: PrometheusQueryResult, base: String) async throws -> Measured {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    let encoded = query.query.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    let probe = try HTTPProbe(
      url: "\(base)/api/v1/query?query=\(encoded)", timeout: min(spec.interval, .seconds(10)),
      bodyLimit: 1 << 20)
    let result = try await probe.run()
    let at = Date()
    guard let status = result.status else {
      return .unreachable(result.reason)
    }
    let answer: PrometheusAnswer
    do {
      answer = try PrometheusAnswer.parse(Data(result.body.utf8))
    } catch {
      return .unreachable("HTTP \(status), not an answer of Prometheus's query API")
    }
    switch answer {
    case .error(let type, let message):
      return .measured(
        PrometheusMeasurement(at: at, value: nil, passed: false, error: "Prometheus: \(type): \(message)"))
    case .values(let values):
      guard let value = values.first else {
        return .measured(
          PrometheusMeasurement(
            at: at, value: nil, passed: false, error: "no result (the query matched no series)"))
      }
      guard values.count == 1 else {
        return .measured(
          PrometheusMeasurement(
            at: at, value: nil, passed: false,
            error: "\(values.count) series in the result; aggregate the query to one value, e.g. with sum(…)")
        )
      }
      guard !value.isNaN else {
        return .measured(PrometheusMeasurement(at: at, value: nil, passed: false, error: "the value is NaN"))
      }
      return .measured(judge(value, at: at, query))
    }
  }

  func judge(_ value: Double, at: Date, _ query: PrometheusQueryResult) -> PrometheusMeasurement {
    if let max = query.max, value > max {
      return PrometheusMeasurement(
        at: at, value: value, passed: false,
        error: "value \(PrometheusQueryResult.format(value)) above max \(PrometheusQueryResult.format(max))")
    }
    if let min = query.min, value < min {
      return PrometheusMeasurement(
        at: at, value: value, passed: false,
        error: "value \(PrometheusQueryResult.format(value)) below min \(PrometheusQueryResult.format(min))")
    }
    return PrometheusMeasurement(at: at, value: value, passed: true)
  }

  /// The base URL to query, and the forward opened for it (`via: ssh`).
  private func reach() async throws -> (String, PortForward?) {
    guard spec.via == .ssh, let forward else { return (url, nil) }
    guard var parts = URLComponents(string: url), let host = parts.host else {
      throw HealthError.invalidURL(Self.shown(spec.url, url), reason: "it names no host")
    }
    let port = parts.port ?? (parts.scheme?.lowercased() == "https" ? 443 : 80)
    let opened = try await forward(port, host)
    parts.host = "127.0.0.1"
    parts.port = opened.localPort
    guard let local = parts.string else {
      await opened.close()
      throw HealthError.invalidURL(Self.shown(spec.url, url), reason: "it cannot be rewritten to the forward")
    }
    return (local, opened)
  }

  /// `body`, cancelled at once when a stop is requested; then it throws `CancellationError`.
  private func untilStopped<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
      group.addTask { try await body() }
      group.addTask { [stop] in
        for await _ in stop.requests() { return nil }
        // Cancelled: the body finished first.
        return nil
      }
      defer { group.cancelAll() }
      while let next = try await group.next() {
        if let value = next { return value }
        if stop.requested != nil { throw CancellationError() }
      }
      throw CancellationError()
    }
  }
}

/// What `/api/v1/query` answered: the values of the result (one per series, a scalar as one),
/// or Prometheus's error.
enum PrometheusAnswer: Equatable {
  case values([Double])
  case error(type: String, message: String)

  private struct Document: Decodable {
    var status: String
    var error: String?
    var errorType: String?
    var data: DataPart?
  }

  private struct DataPart: Decodable {
    var resultType: String
    var result: ResultPart
  }

  private enum ResultPart: Decodable {
    case vector([Sample])
    case scalar(Sample)

    init(from decoder: any Decoder) throws {
      let container = try decoder.singleValueContainer()
      // `try?`: a result that is not a list of series is a scalar, decoded (or refused) below.
      if let samples = try? container.decode([Series].self) {
        // A vector (or a matrix, whose `values` are not read): one value per series.
        self = .vector(samples.compactMap(\.value))
      } else {
        self = .scalar(try container.decode(Sample.self))
      }
    }
  }

  private struct Series: Decodable {
    var value: Sample?
  }

  /// `[1700000000.123, "0.5"]`.
  fileprivate struct Sample: Decodable {
    var value: Double

    init(from decoder: any Decoder) throws {
      var items = try decoder.unkeyedContainer()
      _ = try items.decode(Double.self)
      let text = try items.decode(String.self)
      guard let value = Double(text) ?? Self.special(text) else {
        throw DecodingError.dataCorruptedError(in: items, debugDescription: "not a number: \(text)")
      }
      self.value = value
    }

    static func special(_ text: String) -> Double? {
      switch text {
      case "NaN": .nan
      case "+Inf": .infinity
      case "-Inf": -.infinity
      default: nil
      }
    }
  }

  static func parse(_ data: Data) throws -> PrometheusAnswer {
    let document = try JSONDecoder().decode(Document.self, from: data)
    if document.status != "success" {
      return .error(type: document.errorType ?? "error", message: document.error ?? "(no message)")
    }
    guard let data = document.data else { return .values([]) }
    switch data.result {
    case .vector(let samples): return .values(samples.map(\.value))
    case .scalar(let sample): return .values([sample.value])
    }
  }
}
