import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Debian's `prometheus` or `prometheus-pushgateway` on 127.0.0.1, with a data folder of its
/// own under /tmp, started by a test and stopped by its PID (`stop()`), its folder removed.
public final class MetricsServer: Sendable {
  public enum Kind: Sendable {
    /// Scrapes `targets` (host:port) every second at `metricsPath`, each series labelled
    /// `app` (as a scrape config's static label).
    case prometheus(targets: [String], metricsPath: String, app: String)
    case pushgateway
  }

  public let port: Int
  public let directory: String
  private let process: ChildProcess

  private init(port: Int, directory: String, process: ChildProcess) {
    self.port = port
    self.directory = directory
    self.process = process
  }

  public var url: String { "http://127.0.0.1:\(port)" }

  public static let prometheusPath = "/usr/bin/prometheus"
  public static let pushgatewayPath = "/usr/bin/prometheus-pushgateway"

  /// Whether the Debian packages are installed (`make setup` installs them).
  public static var isAvailable: Bool {
    FileManager.default.isExecutableFile(atPath: prometheusPath)
      && FileManager.default.isExecutableFile(atPath: pushgatewayPath)
  }

  public static func start(_ kind: Kind) async throws -> MetricsServer {
    let directory = try makeTemporaryDirectory("deployctl-metrics")
    do {
      for _ in 0..<5 {
        let port = try LoopbackSocket(listening: false).port
        let (program, arguments) = try command(kind, port: port, directory: directory)
        let process = try ChildProcess.spawn(
          program, arguments, in: directory, stdout: directory + "/server.log",
          stderr: directory + "/server.log")
        if await eventually(timeout: .seconds(30), { !process.isRunning || loopbackPortAnswers(port) }),
          process.isRunning
        {
          let server = MetricsServer(port: port, directory: directory, process: process)
          // Prometheus answers before its storage is ready; /-/ready says when queries work.
          // Its scrape manager takes in targets every 5 s: wait until it has them, so the
          // test's first deploy is scraped from its start.
          if await eventually(timeout: .seconds(30), { await server.get("/-/ready")?.status == 200 }),
            await eventually(timeout: .seconds(30), { await server.hasTargets(kind) })
          {
            return server
          }
        }
        await process.stop()
      }
      let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
      throw TestSupportError("\(kind) did not start on 127.0.0.1:\n\(log.suffix(2000))")
    } catch {
      try? FileManager.default.removeItem(atPath: directory)
      throw error
    }
  }

  private static func command(_ kind: Kind, port: Int, directory: String) throws -> (String, [String]) {
    let listen = "--web.listen-address=127.0.0.1:\(port)"
    switch kind {
    case .prometheus(let targets, let metricsPath, let app):
      let config = """
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        scrape_configs:
          - job_name: app
            metrics_path: \(metricsPath)
            static_configs:
              - targets: [\(targets.map { "\"\($0)\"" }.joined(separator: ", "))]
                labels: {app: "\(app)"}

        """
      try config.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
      return (
        prometheusPath,
        [
          "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data", listen,
          "--web.enable-lifecycle",
        ]
      )
    case .pushgateway:
      return (pushgatewayPath, [listen, "--persistence.file=\(directory)/persistence"])
    }
  }

  /// GET `path` on the server: the status and body, nil when nothing answered.
  public func get(_ path: String) async -> (status: Int, body: String)? {
    // `try?`: a server that cannot be asked counts as not answering (the caller's wait is bounded).
    let result = try? await runCapturing(
      "/usr/bin/curl", ["-s", "-g", "--max-time", "5", "-w", "\n%{http_code}", url + path],
      timeout: .seconds(10))
    guard let result, result.status == 0 else { return nil }
    var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
    guard let code = lines.popLast().flatMap({ Int($0) }) else { return nil }
    return (code, lines.joined(separator: "\n"))
  }

  /// Prometheus: its scrape manager lists the configured targets. The Pushgateway: always.
  private func hasTargets(_ kind: Kind) async -> Bool {
    guard case .prometheus(let targets, _, _) = kind, !targets.isEmpty else { return true }
    guard let answer = await get("/api/v1/targets"), answer.status == 200 else { return false }
    return targets.allSatisfy { answer.body.contains("\"\($0)\"") }
  }

  /// Stops the server by its PID and removes its folder.
  public func stop() async {
    await process.stop()
    try? FileManager.default.removeItem(atPath: directory)
  }

  /// Runs `body` with a started server, stopping it after, also when `body` throws.
  public static func with<T>(_ kind: Kind, _ body: (MetricsServer) async throws -> T) async throws -> T {
    let server = try await start(kind)
    do {
      let result = try await body(server)
      await server.stop()
      return result
    } catch {
      await server.stop()
      throw error
    }
  }
}
