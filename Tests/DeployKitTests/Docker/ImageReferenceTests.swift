import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

let digestA = "sha256:" + String(repeating: "0123456789abcdef", count: 4)
let planRepo = "registry.example.com/acme/web"

@Suite struct ImageReferenceTests {
  struct Good: Sendable, CustomTestStringConvertible {
    var text: String
    var repository: String
    var tag: String?
    var digest: String?
    var testDescription: String { text }
  }

  static let good: [Good] = [
    Good(text: "v2", repository: planRepo, tag: "v2"),
    Good(text: "1.4.0-rc.1_b", repository: planRepo, tag: "1.4.0-rc.1_b"),
    Good(text: digestA, repository: planRepo, digest: digestA),
    Good(text: "@" + digestA, repository: planRepo, digest: digestA),
    Good(text: "nginx:1.25", repository: "nginx", tag: "1.25"),
    Good(text: "acme/web:v2", repository: "acme/web", tag: "v2"),
    Good(text: "registry.example.com/acme/web:v2", repository: "registry.example.com/acme/web", tag: "v2"),
    Good(
      text: "registry.example.com/acme/web@" + digestA, repository: "registry.example.com/acme/web",
      digest: digestA),
    Good(
      text: "registry.example.com/acme/web:v2@" + digestA, repository: planRepo, tag: "v2", digest: digestA),
    // The colon of a registry port is not a tag.
    Good(text: "192.168.250.1:5000/acme/web:v2", repository: "192.168.250.1:5000/acme/web", tag: "v2"),
    Good(text: "localhost:5000/web@" + digestA, repository: "localhost:5000/web", digest: digestA),
    Good(text: "localhost/web:latest", repository: "localhost/web", tag: "latest"),
    Good(text: "a/b__c/d-e--f.g_h:T_1", repository: "a/b__c/d-e--f.g_h", tag: "T_1"),
  ]

  @Test(arguments: good)
  func parsesGoodReferences(_ example: Good) throws {
    let reference = try ImageReference.parse(example.text, defaultRepository: planRepo)
    #expect(reference.repository == example.repository)
    #expect(reference.tag == example.tag)
    #expect(reference.digest?.value == example.digest)
  }

  static let bad: [(String, String)] = [
    ("", "empty"),
    ("web v2", "spaces"),
    ("Registry.example.com/Acme/web:v2", "lowercase"),
    ("acme/Web:v2", "lowercase"),
    ("registry:5000/acme/web", "no tag or digest"),
    ("acme/web", "no tag or digest"),
    ("acme/web:", "tag is empty"),
    ("acme//web:v2", "empty path component"),
    ("acme/web/:v2", "empty path component"),
    ("acme/-web:v2", "must start and end"),
    ("acme/web-:v2", "must start and end"),
    ("acme/we$b:v2", "may contain only"),
    ("acme/web:-v2", "must start with"),
    ("acme/web:v2;rm", "may contain only"),
    ("acme/web:" + String(repeating: "a", count: 129), "longer than 128"),
    ("registry:99999/web:v2", "registry port"),
    ("registry:/web:v2", "registry port"),
    ("-bad.example.com/web:v2", "not a valid host"),
    ("acme/web@sha256:abc", "3 hex digits"),
    ("acme/web@sha512:" + String(repeating: "a", count: 128), "only sha256"),
    ("acme/web@" + digestA.uppercased(), "only sha256"),
    ("acme/web@0123", "sha256: prefix"),
    ("acme/web@sha256:" + String(repeating: "A", count: 64), "only 0-9 and a-f"),
    ("acme/web@sha256:" + String(repeating: "g", count: 64), "only 0-9 and a-f"),
    ("$(reboot)", "tag must start"),
    ("x;reboot", "tag may contain only"),
  ]

  @Test(arguments: bad)
  func refusesBadReferences(_ text: String, _ why: String) {
    #expect {
      try ImageReference.parse(text, defaultRepository: planRepo)
    } throws: { error in
      let message = String(describing: error)
      return message.contains(why) && (error as? DockerError)?.exitStatus == .refused
    }
  }

  @Test func bareTagNeedsThePlanRepository() {
    #expect(throws: DockerError.self) { try ImageReference.parse("v2") }
    #expect(throws: DockerError.self) { try ImageReference.parse(digestA) }
  }

  @Test func printsAndPins() throws {
    let tagged = try ImageReference.parse("v2", defaultRepository: "192.168.250.1:5000/acme/web")
    #expect(tagged.description == "192.168.250.1:5000/acme/web:v2")
    #expect(tagged.pinned == nil)
    #expect(tagged.registry == "192.168.250.1:5000")
    let pinned = tagged.resolved(to: try ImageDigest(digestA))
    #expect(pinned.description == "192.168.250.1:5000/acme/web:v2@" + digestA)
    #expect(pinned.pinned == "192.168.250.1:5000/acme/web@" + digestA)
    #expect(pinned.digest?.short == "0123456789ab")
    #expect(try ImageReference.parse("acme/web:v2").registry == nil)
  }

  @Test func familiarNamesMatchDockerHub() throws {
    #expect(try ImageReference.parse("docker.io/library/nginx:1").familiarRepository == "nginx")
    #expect(try ImageReference.parse("docker.io/acme/web:1").familiarRepository == "acme/web")
    #expect(
      try ImageReference.parse("registry.example.com/library/web:1").familiarRepository
        == planRepo.replacingOccurrences(of: "acme", with: "library"))
  }

  @Test func codableAsString() throws {
    let reference = try ImageReference.parse("registry.example.com/acme/web:v2@" + digestA)
    let data = try HostStateJSON.encoder().encode([reference])
    #expect(String(decoding: data, as: UTF8.self) == "[\"registry.example.com/acme/web:v2@\(digestA)\"]")
    #expect(try HostStateJSON.decoder().decode([ImageReference].self, from: data) == [reference])
  }
}
