import Foundation
import TestSupport
import Testing

/// `deployctl exec` run as a process against local sshd servers, with an inventory of its own.
@Suite("deployctl exec")
struct ExecCommandTests {
  /// The built `deployctl`, next to this test bundle.
  static var binary: String {
    let me =
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
      ?? CommandLine.arguments[0]
    return (me as NSString).deletingLastPathComponent + "/deployctl"
  }

  /// Two hosts (`a`, `b`) with their own sshd, and `down`, a port nothing listens on.
  private func withInventory(
    includeDown: Bool = false, _ body: ([String], LocalSSHD, LocalSSHD) async throws -> Void
  ) async throws {
    let a = try await LocalSSHD.start()
    let b = try await LocalSSHD.start()
    let folder = try makeTemporaryDirectory("deployctl-exec")
    do {
      let knownHosts = "\(folder)/known_hosts"
      try
        (String(contentsOfFile: a.knownHosts, encoding: .utf8)
        + String(contentsOfFile: b.knownHosts, encoding: .utf8))
        .write(toFile: knownHosts, atomically: true, encoding: .utf8)
      try FileManager.default.createDirectory(
        atPath: "\(folder)/inventories", withIntermediateDirectories: true)
      var inventory = """
        environment: test
        ssh:
          user: root
          known_hosts: \(knownHosts)
          connect_timeout: 5s
        hosts:
          a:
            address: 127.0.0.1
            port: \(a.port)
            identity_file: \(a.clientKey)
          b:
            address: 127.0.0.1
            port: \(b.port)
            identity_file: \(b.clientKey)

        """
      if includeDown {
        inventory += """
            down:
              address: 127.0.0.1
              port: \(try freeLoopbackPort())
              identity_file: \(a.clientKey)

          """
      }
      try inventory.write(toFile: "\(folder)/inventories/test.yml", atomically: true, encoding: .utf8)
      try FileManager.default.createDirectory(
        atPath: "\(folder)/playbooks", withIntermediateDirectories: true)
      try "app: web\nimage: registry.example.com/acme/web\n".write(
        toFile: "\(folder)/playbooks/web.yml", atomically: true, encoding: .utf8)
      try await body(["--inventories", "\(folder)/inventories", "--playbooks", "\(folder)/playbooks"], a, b)
    } catch {
      try? FileManager.default.removeItem(atPath: folder)
      await a.shutdown()
      await b.shutdown()
      throw error
    }
    try? FileManager.default.removeItem(atPath: folder)
    await a.shutdown()
    await b.shutdown()
  }

  private func deployctl(_ arguments: [String]) async throws -> ProgramResult {
    try await runCapturing(Self.binary, arguments, timeout: .seconds(60))
  }

  @Test func runsOnEveryHostWithPrefixedOutputAndExitZero() async throws {
    try await withInventory { project, _, _ in
      let result = try await deployctl(
        [
          "exec", "test",
        ] + project + [
          "--", "sh", "-c", "echo out; echo err >&2",
        ])
      #expect(result.status == 0)
      let out = Set(result.stdout.split(separator: "\n").map(String.init))
      #expect(out == ["a: out", "b: out"])
      #expect(result.stderr.contains("a: err\n"))
      #expect(result.stderr.contains("b: err\n"))
      #expect(result.stderr.contains("exec test: 2 of 2 hosts exited 0"))
    }
  }

  @Test func wordsReachTheHostExactlyAsTyped() async throws {
    try await withInventory { project, _, _ in
      let result = try await deployctl(
        [
          "exec", "test",
        ] + project + [
          "--limit", "a", "--", "printf", "%s|", "two words",
          "$HOME",
          "it's", ";", "id",
        ])
      #expect(result.status == 0)
      #expect(result.stdout == "a: two words|$HOME|it's|;|id|\n")
    }
  }

  @Test func withShellTheOneArgumentIsACommandLineForTheHostsShell() async throws {
    try await withInventory { project, _, _ in
      let piped = try await deployctl(
        ["exec", "test"] + project + [
          "--limit", "a", "--shell", "--", "printf 'x\\ny\\nz\\n' | grep -c . && echo $((6 * 7))",
        ])
      #expect(piped.status == 0, "\(piped.stderr)")
      #expect(piped.stdout == "a: 3\na: 42\n")

      // The same line without --shell is one word: the host looks for a program of that name.
      let literal = try await deployctl(
        ["exec", "test"] + project + ["--limit", "a", "--", "echo hi | tr h H"])
      #expect(literal.status == 1)
      #expect(!literal.stdout.contains("Hi"))
      #expect(literal.stderr.contains("a: "), "\(literal.stderr)")

      // --shell takes exactly one command line.
      let two = try await deployctl(["exec", "test"] + project + ["--shell", "--", "echo", "hi"])
      #expect(two.status == 2)
      #expect(two.stderr.contains("--shell takes one command line"), "\(two.stderr)")
      #expect(two.stdout.isEmpty)
    }
  }

  @Test func aNonZeroExitOnOneHostMakesTheRunFail() async throws {
    try await withInventory { project, a, _ in
      // Exits 3 on `a` only: the server port in $SSH_CONNECTION tells the hosts apart.
      let result = try await deployctl(
        [
          "exec", "test",
        ] + project + [
          "--", "sh", "-c",
          "[ \"$(echo $SSH_CONNECTION | cut -d' ' -f4)\" = \(a.port) ] && exit 3; exit 0",
        ])
      #expect(result.status == 1)
      let summary = result.stderr.split(separator: "\n").map {
        $0.split(separator: " ", omittingEmptySubsequences: true)
      }
      #expect(
        summary.contains {
          $0.first == "a" && $0.dropFirst().first == "failed" && $0.dropFirst(2).first == "3"
        })
      #expect(summary.contains { $0.first == "b" && $0.dropFirst().first == "ok" })
    }
  }

  @Test func jsonReportHasEveryHostAndAnUnreachableOneFails() async throws {
    try await withInventory(includeDown: true) { project, _, _ in
      let result = try await deployctl(
        [
          "exec", "test",
        ] + project + [
          "--output", "json", "--", "echo", "hi",
        ])
      #expect(result.status == 1)
      let json = try #require(
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
      #expect(json["command"] as? String == "exec")
      #expect(json["environment"] as? String == "test")
      #expect(json["remote_command"] as? String == "echo hi")
      #expect(json["result"] as? String == "failed")
      #expect(json["exit_code"] as? Int == 1)
      let hosts = try #require(json["hosts"] as? [[String: Any]])
      #expect(hosts.map { $0["name"] as? String } == ["a", "b", "down"])
      #expect(hosts[0]["stdout"] as? String == "hi\n")
      #expect(hosts[0]["exit_status"] as? Int == 0)
      #expect(hosts[0]["result"] as? String == "ok")
      #expect(hosts[2]["result"] as? String == "unreachable")
      #expect((hosts[2]["error"] as? String)?.hasPrefix("down: connection refused") == true)
      #expect(hosts[2]["exit_status"] is NSNull)
    }
  }

  @Test func badArgumentsAndUnknownHostsExitTwo() async throws {
    try await withInventory { project, _, _ in
      let unknown = try await deployctl(
        [
          "exec", "test",
        ] + project + [
          "--limit", "nope", "--", "true",
        ])
      #expect(unknown.status == 2)
      #expect(unknown.stderr.contains("no host nope"))
      let noCommand = try await deployctl(["exec", "test"] + project)
      #expect(noCommand.status == 2)
      let noEnvironment = try await deployctl(["exec", "nope"] + project + ["--", "true"])
      #expect(noEnvironment.status == 2)
      #expect(noEnvironment.stderr.contains("nope.yml"))
    }
  }
}

@Suite("deployctl exec interrupted")
struct ExecInterruptTests {
  @Test func sigintClosesTheSessionsAndReportsInterrupted() async throws {
    let server = try await LocalSSHD.start()
    let folder = try makeTemporaryDirectory("deployctl-exec")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    do {
      try FileManager.default.createDirectory(
        atPath: "\(folder)/inventories", withIntermediateDirectories: true)
      try FileManager.default.createDirectory(
        atPath: "\(folder)/playbooks", withIntermediateDirectories: true)
      try """
      environment: test
      ssh: {user: root, identity_file: \(server.clientKey), known_hosts: \(server.knownHosts)}
      hosts:
        a: {address: 127.0.0.1, port: \(server.port)}
        b: {address: 127.0.0.1, port: \(server.port)}

      """.write(toFile: "\(folder)/inventories/test.yml", atomically: true, encoding: .utf8)
      try "app: web\nimage: registry.example.com/acme/web\n".write(
        toFile: "\(folder)/playbooks/web.yml", atomically: true, encoding: .utf8)
      let run = try ChildProcess.spawn(
        ExecCommandTests.binary,
        [
          "exec", "test", "--inventories", "\(folder)/inventories", "--playbooks", "\(folder)/playbooks",
          "--output", "json", "--", "sh", "-c", "echo started; sleep 60",
        ], stdout: "\(folder)/out", stderr: "\(folder)/err")
      let started = await eventually(timeout: .seconds(30)) {
        let err = (try? String(contentsOfFile: "\(folder)/err", encoding: .utf8)) ?? ""
        return err.contains("a: started") && err.contains("b: started")
      }
      #expect(started)
      run.signal(SIGINT)
      let status = await run.wait(timeout: .seconds(30))
      #expect(status == 1)
      let out = try String(contentsOfFile: "\(folder)/out", encoding: .utf8)
      let json = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
      let hosts = try #require(json["hosts"] as? [[String: Any]])
      #expect(hosts.map { $0["error"] as? String } == ["interrupted", "interrupted"])
      // Both connections are gone on the server: nothing was left open.
      #expect(await eventually { server.connectionProcesses.isEmpty })
    } catch {
      await server.shutdown()
      throw error
    }
    await server.shutdown()
  }
}
