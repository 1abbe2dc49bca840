import Foundation
import Testing

@testable import DeployKit
@testable import DeployTransport

/// known_hosts split up by host name (what each connection hands libssh2), read once per file
/// version.
@Suite struct KnownHostsFileTests {
  let key = "AAAAC3NzaC1lZDI1NTE5AAAAIKd0ZXN0LWtleS1mb3ItZGVwbG95Y3RsLXRlc3RzLi4u"

  @Test func entriesAreFoundByEveryNameTheyList() {
    var file = KnownHostsFile()
    file.add(
      """
      # a comment
      web1,10.0.0.5 ssh-ed25519 \(key) deploy@ci
      [10.0.0.6]:2222 ssh-ed25519 \(key)
      |1|c2FsdA==|aGFzaA== ssh-ed25519 \(key)
      @cert-authority *.example.com ssh-ed25519 \(key)
      @revoked web9 ssh-ed25519 \(key)

      """)
    #expect(file.plain["web1"] == ["web1,10.0.0.5 ssh-ed25519 \(key) deploy@ci"])
    #expect(file.plain["10.0.0.5"] == file.plain["web1"])
    #expect(file.plain["[10.0.0.6]:2222"]?.count == 1)
    #expect(file.plain["10.0.0.6"] == nil)
    #expect(file.hashed == ["|1|c2FsdA==|aGFzaA== ssh-ed25519 \(key)"])
    #expect(file.revoked == [key])
    #expect(file.plain["*.example.com"] == nil && file.plain["web9"] == nil)
  }

  @Test func aChangedFileIsReadAgain() throws {
    let folder = try TemporaryDirectory()
    defer { folder.remove() }
    let path = folder.path + "/known_hosts"
    #expect(KnownHostsFile.read(path).plain.isEmpty)
    try "web1 ssh-ed25519 \(key)\n".write(toFile: path, atomically: false, encoding: .utf8)
    #expect(KnownHostsFile.read(path).plain.keys.sorted() == ["web1"])
    try "web1 ssh-ed25519 \(key)\nweb2 ssh-ed25519 \(key)\n".write(
      toFile: path, atomically: false, encoding: .utf8)
    #expect(KnownHostsFile.read(path).plain.keys.sorted() == ["web1", "web2"])
  }
}
