import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

/// `registry:` in a plan: read, checked at file:line:col, and turned into credentials from
/// deployctl's environment (never from files, never printed).
@Suite struct RegistryConfigTests {
  func validation(_ registry: String) throws -> (ProjectValidation, String, ConfigFixture) {
    let plan = """
      app: web
      image: ghcr.io/acme/web
      \(registry)
      """
    let fixture = try ConfigFixture(["playbooks/web.yml": plan])
    return (fixture.validate(), fixture.path("playbooks/web.yml"), fixture)
  }

  @Test func readsTheCredentialsAndDefaultsTheServerToTheImagesRegistry() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": """
      app: web
      image: ghcr.io/acme/web
      registry:
        username: ci-bot
        password_secret: GHCR_TOKEN
      container:
        secrets: [DATABASE_URL]

      """
    ])
    let project = try fixture.load()
    let plan = try project.plan(app: "web").resolved(for: project.inventory(named: "prod"))
    let spec = try #require(plan.registry)
    #expect(spec.server == nil)
    #expect(spec.secretNames == ["GHCR_TOKEN"])
    let login = try spec.login(for: plan.image, environment: ["GHCR_TOKEN": "t0ken"])
    #expect(login == RegistryLogin(server: "ghcr.io", username: "ci-bot", password: "t0ken"))
    #expect(!"\(login)".contains("t0ken"))
    // An unset secret refuses the run (exit 2) with the message every missing secret gets.
    #expect(throws: RolloutError.self) { try spec.login(for: plan.image, environment: [:]) }
    do {
      _ = try spec.login(for: plan.image, environment: [:])
    } catch {
      #expect(error.exitStatus == .refused)
      #expect("\(error)".contains("GHCR_TOKEN not set"))
    }
  }

  @Test func aUserNameFromASecretAndAnExplicitServer() throws {
    let spec = RegistrySpec(
      server: "registry.example.com:5000", username: .secret("REG_USER"), passwordSecret: "REG_PASS")
    #expect(spec.secretNames == ["REG_USER", "REG_PASS"])
    let login = try spec.login(
      for: try ImageRepository(parsing: "ghcr.io/acme/web"),
      environment: ["REG_USER": "bot", "REG_PASS": "p"])
    #expect(login.server == "registry.example.com:5000")
    #expect(login.username == "bot")
  }

  @Test func everyMistakeAtItsPlace() throws {
    let (missing, file, _) = try validation(
      """
      registry:
        username: ci-bot
      """)
    expectDiagnostic(missing, file, 4, 3, "`registry` is missing required key `password_secret`")

    let (bad, file2, _) = try validation(
      """
      registry:
        server: "https://ghcr.io/x"
        username: ci-bot
        password_secret: "not a name"
        user: x
      """)
    expectDiagnostic(bad, file2, 4, 11, "`registry.server` must be a registry host")
    expectDiagnostic(bad, file2, 6, 20, "`registry.password_secret`")
    expectDiagnostic(bad, file2, 7, 3, "unknown key `user` in `registry`")

    let (both, file3, _) = try validation(
      """
      registry:
        username: ci-bot
        username_secret: GH_USER
        password_secret: GHCR_TOKEN
      """)
    expectDiagnostic(both, file3, 4, 13, "has both `username` and `username_secret`")

    let (neither, file4, _) = try validation(
      """
      registry:
        password_secret: GHCR_TOKEN
      """)
    expectDiagnostic(neither, file4, 4, 3, "needs `username: NAME` or `username_secret: VARIABLE`")
  }
}
