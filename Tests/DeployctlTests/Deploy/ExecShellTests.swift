import Foundation
import Testing

/// `deployctl exec --shell` on the testbed's hosts: the one argument is a command line for the
/// host's shell (as `ssh host 'CMD'`), and without `--shell` metacharacters stay literal words.
@Suite("exec --shell end to end", .enabled(if: Testbed.isAvailable))
struct ExecShellTests {
  /// `exec ENV OPTIONS -- COMMAND`: the folders go before `--`, where options belong.
  private func exec(_ s: Scenario, _ environment: String, _ options: [String], _ command: [String])
    async throws
    -> Scenario.Run
  {
    let process = try await DeployctlProcess.start(
      ["exec", environment, "--inventories", s.inventories, "--playbooks", s.playbooks] + options + ["--"]
        + command,
      environment: [:])
    return try await process.finish()
  }

  @Test("a pipeline runs with --shell; without it the same line is one literal word")
  func shellAndLiteral() async throws {
    try await Scenario.with { s in
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)
      let hosts = s.hosts("prod").map(\.name)

      let piped = try await exec(
        s, "prod", ["--shell"],
        [#"docker ps --format '{{.Label "deployctl.environment"}}' | grep -c '^prod$'"#])
      #expect(piped.status == 0, "\(piped.stderr)")
      #expect(Set(piped.stdout.split(separator: "\n").map(String.init)) == Set(hosts.map { "\($0): 1" }))

      let variables = try await exec(
        s, "prod", ["--shell", "--limit", hosts[0]], ["echo \"$((2 + 3))-$(hostname)\""])
      #expect(variables.stdout == "\(hosts[0]): 5-\(hosts[0])\n", "\(variables.stderr)")

      // Without --shell every word is quoted: the pipe and the `$` reach echo as text.
      let literal = try await exec(
        s, "prod", ["--limit", hosts[0]], ["echo", "a | grep b", "$HOME", ";", "id"])
      #expect(literal.status == 0)
      #expect(literal.stdout == "\(hosts[0]): a | grep b $HOME ; id\n")
      let oneWord = try await exec(s, "prod", ["--limit", hosts[0]], ["docker ps | grep web"])
      #expect(oneWord.status == 1, "no program is named `docker ps | grep web`")

      let json = try await exec(s, "prod", ["--shell", "--output", "json"], ["true && false"])
      #expect(json.status == 1)
      #expect(json.raw["remote_command"] as? String == "true && false")
      #expect((json.raw["hosts"] as? [[String: Any]] ?? []).allSatisfy { $0["exit_status"] as? Int == 1 })
    }
  }
}
