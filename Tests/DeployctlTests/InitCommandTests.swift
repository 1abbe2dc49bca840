import Foundation
import TestSupport
import Testing

/// `deployctl init` as a user runs it, in an empty folder: what it writes passes `validate`, and
/// a second run refuses to overwrite anything (docs/commands.md "init").
@Suite struct InitCommandTests {
  func deployctl(_ arguments: [String], in folder: String) async throws -> ProgramResult {
    let binary = try await Deployctl.binary()
    return try await RunningProgram.start(binary.path, arguments, in: folder).finish(timeout: .seconds(60))
  }

  @Test("init writes inventories, a plan and a workflow that validate; a second run writes nothing, exit 2")
  func writesAValidProjectAndNeverOverwrites() async throws {
    let folder = try makeTemporaryDirectory("deployctl-init")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let first = try await deployctl(
      [
        "init", "--app", "shop", "--image", "ghcr.io/acme/shop", "--hosts", "staging=10.0.1.5", "--hosts",
        "prod=10.0.2.5,10.0.2.6", "--ci", "github",
      ], in: folder)
    #expect(first.status == 0, "\(first.stderr)")
    let validate = try await deployctl(["validate"], in: folder)
    #expect(validate.status == 0, "\(validate.stdout)\(validate.stderr)")
    #expect(validate.stdout.contains("environments staging, prod; apps shop"), "\(validate.stdout)")
    let prod = try String(contentsOfFile: folder + "/inventories/prod.yml", encoding: .utf8)
    #expect(prod.contains("promote_from: staging"))
    #expect(prod.contains("prod-2:\n    address: 10.0.2.6"))
    let workflow = try String(contentsOfFile: folder + "/.github/workflows/deploy.yml", encoding: .utf8)
    #expect(workflow.contains("deployctl deploy staging --app shop"))
    #expect(workflow.contains("deployctl promote staging prod --app shop"))
    #expect(workflow.contains("environment: prod"))
    #expect(workflow.contains("/deployctl@v"))

    // Once more: prod.yml exists, so nothing is written (dev.yml neither), exit 2.
    let again = try await deployctl(["init", "--output", "json"], in: folder)
    #expect(again.status == 2, "\(again.stderr)")
    #expect(again.stdout.contains("\"existing\" : [\n    \"./inventories/prod.yml\""), "\(again.stdout)")
    #expect(!FileManager.default.fileExists(atPath: folder + "/inventories/dev.yml"))
    #expect(!FileManager.default.fileExists(atPath: folder + "/playbooks/web.yml"))
  }

  @Test("a malformed --hosts is refused before anything is written")
  func badHosts() async throws {
    let folder = try makeTemporaryDirectory("deployctl-init")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let run = try await deployctl(["init", "--hosts", "prod"], in: folder)
    #expect(run.status == 2)
    #expect(run.stderr.contains("write ENV=ADDR[,ADDR]"), "\(run.stderr)")
    #expect(!FileManager.default.fileExists(atPath: folder + "/inventories"))
  }
}
