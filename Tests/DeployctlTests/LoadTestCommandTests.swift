import DeployEngine
import DeployKit
import Foundation
import TestSupport
import Testing

/// `deployctl load-test` (hidden; what scripts/bench-load measures) against busybox httpd on
/// loopback, started and stopped by the test.
@Suite struct LoadTestCommandTests {
  @Test func figuresAsJSONAndAFailedLimitExitsOne() async throws {
    let site = try TemporaryFolder()
    try site.write("healthz", "ok ready\n")
    let port = try freeLoopbackPort()
    let server = try ChildProcess.spawn(
      "/bin/busybox", ["httpd", "-f", "-p", "127.0.0.1:\(port)", "-h", site.url.path])
    do {
      let url = "http://127.0.0.1:\(port)/healthz"
      let up = await eventually {
        (try? await HTTPProbe(url: url).run().healthy) == true
      }
      #expect(up, "busybox httpd did not come up on \(port)")
      let ok = try await Deployctl.run([
        "load-test", url, "--requests", "25", "--concurrency", "4", "--max-error-rate", "0%", "--output",
        "json",
      ])
      #expect(ok.status == 0, "\(ok.stderr)")
      let json = try #require(try JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as? [String: Any])
      let figures = try #require(json["figures"] as? [String: Any])
      #expect(figures["requests"] as? Int == 25)
      #expect(figures["errors"] as? Int == 0)
      #expect((json["verdict"] as? [String: Any])?["passed"] as? Bool == true)

      let missing = try await Deployctl.run(["load-test", "http://127.0.0.1:\(port)/nope", "--requests", "5"])
      #expect(missing.status == 1)
      #expect(missing.stdout.hasPrefix("5 requests, 5 errors (100.00%), "))
      #expect(
        missing.stdout.contains("failed: error rate 100.00% is over max_error_rate 1.00%: HTTP 404 (5×)"))

      let bad = try await Deployctl.run(["load-test", "ftp://127.0.0.1/", "--requests", "5"])
      #expect(bad.status == 2)
      #expect(bad.stderr.contains("`ftp://127.0.0.1/` is not an http:// or https:// URL"))
    } catch {
      await server.stop()
      throw error
    }
    await server.stop()
  }
}
