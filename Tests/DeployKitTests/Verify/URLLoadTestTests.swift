import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

/// `deployctl load-test URL`: the URL read into where to connect and what to request.
@Suite struct URLLoadTestTests {
  @Test func aURLIsItsBaseItsPortAndItsPathWithQuery() throws {
    let test = try URLLoadTest(url: "http://[::1]:8080/healthz?full=1")
    #expect(test.baseURL == "http://[::1]:8080")
    #expect(test.spec.port == 8080)
    #expect(test.spec.path == "/healthz?full=1")
    #expect(test.spec.requests == 1000 && test.spec.concurrency == 10 && test.spec.maxErrorRate == 0.01)

    let https = try URLLoadTest(url: "https://example.com")
    #expect(https.baseURL == "https://example.com")
    #expect(https.spec.port == 443 && https.spec.path == "/")
  }

  @Test func onlyHTTPAndHTTPSAreTaken() {
    #expect(throws: ValueError("`ftp://127.0.0.1/` is not an http:// or https:// URL")) {
      try URLLoadTest(url: "ftp://127.0.0.1/")
    }
    #expect(throws: ValueError.self) { try URLLoadTest(url: "127.0.0.1:8080") }
  }
}
