import Foundation
import Testing

@Suite struct ValidateCommandTests {
  @Test func theRepositoryExamplesAreValid() async throws {
    let result = try await Deployctl.run(["validate"], in: Deployctl.packageRoot)
    #expect(result.status == 0, "stderr:\n\(result.stderr)")
    #expect(result.stdout.contains("valid: environments dev, staging, prod; apps web"))
    #expect(!result.stderr.contains("error:"))
  }

  @Test func theExamplesAreValidFromAnotherFolderToo() async throws {
    let folder = try TemporaryFolder()
    let root = Deployctl.packageRoot.path
    let result = try await Deployctl.run(
      ["validate", "--inventories", "\(root)/inventories", "--playbooks", "\(root)/playbooks"], in: folder.url
    )
    #expect(result.status == 0, "stderr:\n\(result.stderr)")
  }

  @Test func aBrokenInventoryReportsEveryProblemInOneRun() async throws {
    let folder = try TemporaryFolder()
    try folder.copy(fromRepository: "inventories")
    try folder.copy(fromRepository: "playbooks")
    try folder.write(
      "inventories/prod.yml",
      """
      environment: production
      promote_from: staging
      ssh:
        user: deploy
        port: "22"
        host_key_policy: yes
      hosts:
        prod-1:
          adress: 192.168.250.13
        prod-2:
          address: "192.168.250.14; reboot"
          port: 22

      """)
    let result = try await Deployctl.run(["validate"], in: folder.url)
    #expect(result.status == 2)
    let lines = result.stderr.split(separator: "\n").map(String.init)
    let expected = [
      "inventories/prod.yml:1:14: error: `environment: production` does not match the file name `prod.yml`",
      "inventories/prod.yml:5:9: error: `ssh.port` must be a port number (1-65535), found the string \"22\"",
      "inventories/prod.yml:6:20: error: `ssh.host_key_policy`: `yes` is not a host key policy",
      "inventories/prod.yml:9:5: error: unknown key `adress` in `hosts.prod-1`; did you mean `address`?",
      "inventories/prod.yml:9:5: error: `hosts.prod-1` is missing required key `address`",
      "inventories/prod.yml:11:14: error: `hosts.prod-2.address`: `192.168.250.14; reboot` is not a valid address (it contains `;`)",
    ]
    for prefix in expected {
      #expect(lines.contains { $0.hasPrefix(prefix) }, "missing \(prefix)\nstderr:\n\(result.stderr)")
    }
    #expect(lines.last == "6 errors")
    // Sorted by position, as a compiler prints them.
    #expect(lines.dropLast().map { $0.split(separator: ":")[1] } == ["1", "5", "6", "9", "9", "11"])
    #expect(result.stdout.isEmpty)
  }

  @Test func jsonOutputParsesAndListsDiagnostics() async throws {
    let folder = try TemporaryFolder()
    try folder.copy(fromRepository: "inventories")
    try folder.copy(fromRepository: "playbooks")
    let ok = try await Deployctl.run(["validate", "--output", "json"], in: folder.url)
    #expect(ok.status == 0)
    let okObject = try #require(JSONSerialization.jsonObject(with: Data(ok.stdout.utf8)) as? [String: Any])
    #expect(okObject["command"] as? String == "validate")
    #expect(okObject["result"] as? String == "success")
    #expect(okObject["valid"] as? Bool == true)
    #expect(okObject["environments"] as? [String] == ["dev", "staging", "prod"])
    #expect(okObject["apps"] as? [String] == ["web"])
    #expect((okObject["diagnostics"] as? [Any])?.isEmpty == true)

    try folder.write(
      "inventories/dev.yml", "environment: dev\nhosts:\n  dev-1: {address: 192.168.250.11, port: x}\n")
    let bad = try await Deployctl.run(["validate", "--output", "json"], in: folder.url)
    #expect(bad.status == 2)
    let object = try #require(JSONSerialization.jsonObject(with: Data(bad.stdout.utf8)) as? [String: Any])
    #expect(object["result"] as? String == "refused")
    #expect(object["valid"] as? Bool == false)
    #expect(object["exit_code"] as? Int == 2)
    let diagnostics = try #require(object["diagnostics"] as? [[String: Any]])
    let port = try #require(diagnostics.first { ($0["message"] as? String)?.contains("port") == true })
    #expect(port["file"] as? String == "inventories/dev.yml")
    #expect(port["line"] as? Int == 3)
    #expect(port["column"] as? Int == 42)
    #expect(port["severity"] as? String == "error")
    // The missing SSH user is the other problem; both are in the one document.
    #expect(diagnostics.count == 2)
  }

  @Test func missingAndEmptyFoldersAreRefused() async throws {
    let folder = try TemporaryFolder()
    let missing = try await Deployctl.run(["validate"], in: folder.url)
    #expect(missing.status == 2)
    #expect(missing.stderr.contains("inventories: error: no such directory"))
    #expect(missing.stderr.contains("playbooks: error: no such directory"))

    try FileManager.default.createDirectory(
      at: folder.url.appendingPathComponent("inv"), withIntermediateDirectories: true)
    try FileManager.default.createDirectory(
      at: folder.url.appendingPathComponent("plays"), withIntermediateDirectories: true)
    let empty = try await Deployctl.run(
      ["validate", "--inventories", "inv/", "--playbooks", "./plays"], in: folder.url)
    #expect(empty.status == 2)
    #expect(empty.stderr.contains("inv: error: no inventories here"))
    #expect(empty.stderr.contains("plays: error: no deploy plans here"))
  }

  @Test func badArgumentsExitWithTwo() async throws {
    let result = try await Deployctl.run(["validate", "--output", "xml"], in: Deployctl.packageRoot)
    #expect(result.status == 2)
    #expect(result.stderr.contains("xml"))
    let parallel = try await Deployctl.run(["validate", "--parallel", "0"], in: Deployctl.packageRoot)
    #expect(parallel.status == 2)
  }

  @Test func helpShowsExamples() async throws {
    let root = try await Deployctl.run(["--help"])
    #expect(root.status == 0)
    #expect(root.stdout.contains("deployctl validate"))
    let validate = try await Deployctl.run(["validate", "--help"])
    #expect(validate.status == 0)
    #expect(validate.stdout.contains("Examples:"))
    #expect(validate.stdout.contains("deployctl validate --output json"))
  }
}
