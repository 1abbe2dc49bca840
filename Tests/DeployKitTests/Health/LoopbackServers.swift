import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// A real HTTP server for health-check tests: busybox httpd on 127.0.0.1, serving a temp folder
/// with CGI scripts for 500s, redirects and "fails N times, then passes". Started by the test,
/// stopped by PID when the test ends, also on failure (`withHTTPServer`).
final class BusyboxHTTPServer: Sendable {
  let root: TemporaryDirectory
  let port: Int
  private let process: ChildProcess

  /// Body of `/healthz`.
  static let healthzBody = "ok ready\n"

  static func busybox() throws -> String {
    for path in ["/bin/busybox", "/usr/bin/busybox"] where FileManager.default.isExecutableFile(atPath: path)
    {
      return path
    }
    throw FixtureError("busybox not found; install busybox-static (make setup)")
  }

  /// `flakyFailures`: how many requests `/cgi-bin/flaky` answers 503 before it answers 200.
  static func start(flakyFailures: Int = 0) async throws -> BusyboxHTTPServer {
    let root = try TemporaryDirectory()
    do {
      try writeSite(in: root, flakyFailures: flakyFailures)
      let (process, port) = try await launch(root: root)
      return BusyboxHTTPServer(root: root, process: process, port: port)
    } catch {
      root.remove()
      throw error
    }
  }

  private init(root: TemporaryDirectory, process: ChildProcess, port: Int) {
    self.root = root
    self.process = process
    self.port = port
  }

  func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

  /// How many requests `/cgi-bin/flaky` has served.
  var flakyRequests: Int {
    let text =
      (try? String(contentsOf: root.url.appendingPathComponent("flaky-count"), encoding: .utf8)) ?? "0"
    return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
  }

  func stop() async {
    await process.stop()
    root.remove()
  }

  private static func writeSite(in root: TemporaryDirectory, flakyFailures: Int) throws {
    let fm = FileManager.default
    let cgi = root.url.appendingPathComponent("cgi-bin")
    try fm.createDirectory(at: cgi, withIntermediateDirectories: true)
    try healthzBody.write(to: root.url.appendingPathComponent("healthz"), atomically: true, encoding: .utf8)
    try String(repeating: "0123456789abcdef", count: 4096)  // 64 KiB
      .write(to: root.url.appendingPathComponent("big"), atomically: true, encoding: .utf8)
    let scripts = [
      "fail":
        #"printf 'Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n\r\ndatabase down\n'"#,
      "redirect": #"printf 'Status: 302 Found\r\nLocation: /healthz\r\n\r\n'"#,
      "flaky": """
      count="\(root.path)/flaky-count"
      n=$(cat "$count" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$count"
      if [ "$n" -le \(flakyFailures) ]; then
        printf 'Status: 503 Service Unavailable\\r\\nContent-Type: text/plain\\r\\n\\r\\nstarting\\n'
      else
        printf 'Status: 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nready\\n'
      fi
      """,
    ]
    for (name, body) in scripts {
      try writeExecutable(cgi.appendingPathComponent(name).path, "#!/bin/sh\n" + body + "\n")
    }
  }

  /// Picks a free port, starts httpd on it and waits (bounded) until it accepts connections. A
  /// port taken between picking and binding makes httpd exit; then another port is tried.
  private static func launch(root: TemporaryDirectory) async throws -> (ChildProcess, Int) {
    let busybox = try busybox()
    for _ in 0..<5 {
      let port = try freeLoopbackPort()
      let process = try ChildProcess.spawn(
        busybox, ["httpd", "-f", "-p", "127.0.0.1:\(port)", "-h", root.path])
      for _ in 0..<200 {  // up to ~4 s
        if !process.isRunning { break }
        if loopbackPortAnswers(port) { return (process, port) }
        do {
          try await Task.sleep(for: .milliseconds(20))
        } catch {
          process.terminate()
          throw error
        }
      }
      await process.stop()
    }
    throw FixtureError("busybox httpd did not start on 127.0.0.1")
  }
}

func withHTTPServer<T>(
  flakyFailures: Int = 0, _ body: (BusyboxHTTPServer) async throws -> T
) async throws -> T {
  let server = try await BusyboxHTTPServer.start(flakyFailures: flakyFailures)
  do {
    let result = try await body(server)
    await server.stop()
    return result
  } catch {
    await server.stop()
    throw error
  }
}

struct FixtureError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
