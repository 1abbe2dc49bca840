import DeployKit
import Foundation
import TestSupport
import Testing

/// What every command line tool is expected to offer: `--version`, shell completions, examples
/// in every `--help`, and `config` to see the resolved plan. The built binary, run as a user runs it.
@Suite("CLI conventions")
struct CLIConventionsTests {
  static let subcommands = [
    "validate", "exec", "deploy", "promote", "rollback", "status", "history", "lock", "config",
    "proxy", "maintenance",
  ]

  @Test func versionPrintsTheVersion() async throws {
    let result = try await Deployctl.run(["--version"])
    #expect(result.status == 0)
    #expect(result.stdout == DeployctlVersion.current + "\n")
    #expect(DeployctlVersion.current.range(of: #"^\d+\.\d+\.\d+$"#, options: .regularExpression) != nil)
  }

  @Test func everySubcommandsHelpShowsExamples() async throws {
    for name in Self.subcommands {
      let help = try await Deployctl.run([name, "--help"])
      #expect(help.status == 0, "\(name)")
      #expect(help.stdout.contains("Examples:"), "\(name) --help has no examples")
      #expect(help.stdout.contains("deployctl \(name) "), "\(name) --help has no example of itself")
    }
  }

  /// A folder with inventories `alpha` (hosts a1, a2) and `beta` (b1), and one plan.
  private func project() throws -> TemporaryFolder {
    let folder = try TemporaryFolder()
    for (environment, hosts) in [("alpha", ["a1", "a2"]), ("beta", ["b1"])] {
      try folder.write(
        "inventories/\(environment).yml",
        "environment: \(environment)\nssh: {user: deploy}\nhosts:\n"
          + hosts.enumerated().map { "  \($1): {address: 10.9.9.\($0 + 1)}\n" }.joined())
    }
    try folder.write("playbooks/web.yml", "app: web\nimage: registry.example.com/acme/web\n")
    return folder
  }

  /// Runs bash's completion of `words` (the last one is being completed) with the generated script.
  private func complete(_ words: [String], in folder: TemporaryFolder) async throws -> [String] {
    let binary = try await Deployctl.binary().path
    let script = """
      source <("$1" --generate-completion-script bash) || exit 1
      shift
      COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
      _deployctl "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
      printf '%s\\n' "${COMPREPLY[@]}"
      """
    let result = try await runCapturing(
      "/bin/bash", ["-c", script, "bash", binary, binary] + words, in: folder.url.path, timeout: .seconds(60))
    #expect(result.status == 0, "\(result.stderr)")
    return result.stdout.split(separator: "\n").map(String.init).sorted()
  }

  @Test func bashCompletionLoadsAndCompletesEnvironmentsAndHosts() async throws {
    let binary = try await Deployctl.binary().path
    let load = try await runCapturing(
      "/bin/bash",
      [
        "-c", "set -e; source <(\"$1\" --generate-completion-script bash); complete -p deployctl", "bash",
        binary,
      ],
      timeout: .seconds(60))
    #expect(load.status == 0, "\(load.stderr)")
    #expect(load.stderr.isEmpty, "\(load.stderr)")
    #expect(load.stdout.contains("_deployctl"))

    let folder = try project()
    #expect(try await complete(["status", ""], in: folder) == ["alpha", "beta"])
    #expect(try await complete(["promote", "alpha", "b"], in: folder) == ["beta"])
    #expect(try await complete(["deploy", "alpha", "--limit", ""], in: folder) == ["a1", "a2"])
    #expect(try await complete(["exec", "beta", "--limit", ""], in: folder) == ["b1"])
    // Another folder, named on the command line.
    let elsewhere = try TemporaryFolder()
    #expect(
      try await complete(["status", "--inventories", folder.url.path + "/inventories", ""], in: elsewhere)
        == ["alpha", "beta"])
  }

  @Test func zshAndFishScriptsAreGenerated() async throws {
    for shell in ["zsh", "fish"] {
      let result = try await Deployctl.run(["--generate-completion-script", shell])
      #expect(result.status == 0)
      #expect(result.stdout.contains("deployctl"), "\(shell)")
    }
  }

  @Test func configPrintsTheResolvedPlanWithSecretNamesButNeverAValue() async throws {
    let folder = try TemporaryFolder()
    try folder.copy(fromRepository: "inventories")
    try folder.copy(fromRepository: "playbooks")
    var environment = ProcessInfo.processInfo.environment
    let secret = "pg://deploy:Xq9-very-secret-77@db/web"
    environment["DATABASE_URL"] = secret

    let text = try await Deployctl.run(["config", "prod"], in: folder.url, environment: environment)
    #expect(text.status == 0, "\(text.stderr)")
    #expect(!text.stdout.contains(secret) && !text.stderr.contains(secret))
    #expect(!text.stdout.contains("Xq9"))
    #expect(text.stdout.contains("DATABASE_URL (set)"), "\(text.stdout)")
    #expect(text.stdout.contains("prod-1:") && text.stdout.contains("prod-2:"))
    // The `environments: prod` override is merged and `${…}` substituted per host.
    #expect(text.stdout.contains("rollout: {batch: 50%"), "\(text.stdout)")
    #expect(text.stdout.contains("APP_ENV: prod"))
    #expect(text.stdout.contains("REGION: eu-west") && text.stdout.contains("REGION: eu-central"))
    #expect(!text.stdout.contains("${"))

    let json = try await Deployctl.run(
      ["config", "prod", "--output", "json", "--limit", "prod-2"], in: folder.url, environment: environment)
    #expect(json.status == 0, "\(json.stderr)")
    #expect(!json.stdout.contains("Xq9") && !json.stderr.contains("Xq9"))
    let document = try #require(
      try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    #expect(document["command"] as? String == "config")
    #expect(document["exit_code"] as? Int == 0)
    let hosts = try #require(document["hosts"] as? [[String: Any]])
    #expect(hosts.map { $0["name"] as? String } == ["prod-2"])
    let container = try #require(hosts[0]["container"] as? [String: Any])
    let secrets = try #require(container["secrets"] as? [[String: Any]])
    #expect(secrets.first?["name"] as? String == "DATABASE_URL")
    #expect(secrets.first?["set"] as? Bool == true)
    #expect((container["env"] as? [String: String])?["REGION"] == "eu-central")

    let unknown = try await Deployctl.run(["config", "qa", "--output", "json"], in: folder.url)
    #expect(unknown.status == 2)
    #expect(unknown.stdout.contains("\"result\" : \"refused\""))
  }
}
