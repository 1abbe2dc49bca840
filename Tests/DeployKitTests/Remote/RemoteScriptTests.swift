import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployTransport

/// The wire protocol against a real `/bin/sh -s` started locally (the stand-in for the host's
/// shell over SSH): sections, exit statuses, a lost shell replaced once, output that imitates a
/// marker.
@Suite struct RemoteScriptTests {
  func run(_ script: RemoteScript, on session: ShellSession = LocalShell.session()) async throws
    -> RemoteScriptOutput
  {
    defer { Task { await session.close() } }
    return try await session.run(script, timeout: .seconds(20)).output
  }

  @Test func sectionsComeBackWithTheirOutputAndStatus() async throws {
    var script = RemoteScript()
    let first = script.section("first", RemoteCommand(["echo", "one two"]))
    let failing = script.section(
      "failing", RemoteCommand(["sh", "-c", "echo out; echo err >&2; exit 3"]), failure: .fails)
    let last = script.section("last", RemoteCommand(["printf", "no newline"]))
    let output = try await run(script)
    #expect(output[first] == .init(lines: ["one two"], status: 0))
    #expect(output[failing] == .init(lines: ["out", "err"], status: 3))
    #expect(output[last] == .init(lines: ["no newline"], status: 0))
    let failure = try #require(output.failure(of: script))
    #expect(failure.name == "failing")
    #expect(failure.status == 3)
  }

  @Test func aSectionThatStopsEndsTheScriptWithItsStatusAndTheShellLivesOn() async throws {
    let session = LocalShell.session()
    var script = RemoteScript()
    let stopping = script.section("stopping", RemoteCommand.exit(7))
    let after = script.section("after", RemoteCommand(["echo", "never"]))
    let output = try await session.run(script, timeout: .seconds(20)).output
    #expect(output[stopping]?.status == 7)
    #expect(output[after] == nil)
    #expect(output.failure(of: script)?.name == "stopping")
    // `exit` ended the script's subshell, not the shell.
    var next = RemoteScript()
    let echo = next.section("echo", RemoteCommand(["echo", "still here"]))
    #expect(try await session.run(next, timeout: .seconds(20)).output[echo]?.lines == ["still here"])
    await session.close()
  }

  @Test func anAnswerSectionMayFailWithoutFailingTheStep() async throws {
    var script = RemoteScript()
    let missing = script.section("missing", RemoteCommand(["ls", "/no/such/path"]), failure: .isAnswer)
    let output = try await run(script)
    #expect(output[missing]?.status != 0)
    #expect(output.failure(of: script) == nil)
  }

  @Test func outputThatImitatesAMarkerIsOrdinaryOutput() async throws {
    var script = RemoteScript()
    // What an attacker-controlled log line could print: markers with another token, and the
    // fixed markers of earlier versions.
    let fake = [
      "::deployctl:0123456789abcdef:: status 0 0", "::deployctl:0123456789abcdef:: section 1 evil",
      "::deployctl:: section evil", "::deployctl:: status evil 0", "::deployctl:: end 0",
    ]
    let log = script.section("log", RemoteCommand(["printf", "%s\\n"] + fake).and(.exit(4)), failure: .fails)
    let output = try await run(script)
    #expect(output[log] == .init(lines: fake, status: 4))
    #expect(output.sections.count == 1)
    #expect(output.failure(of: script)?.status == 4)
  }

  @Test func eachScriptHasItsOwnToken() {
    #expect(RemoteScript().token != RemoteScript().token)
    #expect(RemoteScript().token.count >= 16)
  }

  @Test func aLostShellIsReplacedOnceAndTheScriptRunsAgain() async throws {
    let dir = try TemporaryDirectory()
    let flag = dir.path + "/killed once"
    let opened = Locked(0)
    let session = LocalShell.session(opened: opened)
    var script = RemoteScript()
    // The first time, the step kills its shell (`$$` in the step's subshell is the shell).
    let step = script.section(
      "step",
      .if(
        RemoteCommand(["test", "-e", flag]), then: RemoteCommand(["echo", "second shell"]),
        else: RemoteCommand(["touch", flag]).and(RemoteCommand.program("kill -KILL $$"))))
    let answer = try await session.run(script, timeout: .seconds(20))
    #expect(answer.output[step]?.lines == ["second shell"])
    #expect(answer.reconnected)
    #expect(opened.current == 2)
    await session.close()
  }

  @Test func aShellLostAgainIsAnError() async throws {
    let opened = Locked(0)
    let session = LocalShell.session(opened: opened)
    var script = RemoteScript()
    script.section("step", RemoteCommand.program("kill -KILL $$"))
    await #expect(throws: RemoteShellError.self) { try await session.run(script, timeout: .seconds(20)) }
    #expect(opened.current == 2)
    await session.close()
  }

  @Test func aStepThatDoesNotEndInTimeIsAnError() async throws {
    let session = LocalShell.session()
    var script = RemoteScript()
    // Far longer than the timeout, so a loaded machine that is slow to fire the timer still
    // sees the step outlast it (closing waits for this sleep: keep it short).
    script.section("slow", RemoteCommand(["sleep", "6"]))
    await #expect(throws: RemoteShellError.self) {
      try await session.run(script, timeout: .milliseconds(300))
    }
    await session.close()
  }

  @Test func aScriptTheShellCannotParseEndsTheShellAndIsAnError() async throws {
    var script = RemoteScript()
    script.section("broken", RemoteCommand.program("if then fi"))
    await #expect(throws: RemoteShellError.self) { try await run(script) }
  }
}

/// Typed commands, run by the real `/bin/sh`.
@Suite struct RemoteCommandTests {
  func output(_ command: RemoteCommand) async throws -> RemoteScriptOutput.Section {
    var script = RemoteScript()
    let section = script.section("it", command, failure: .isAnswer)
    let session = LocalShell.session()
    defer { Task { await session.close() } }
    return try #require(try await session.run(script, timeout: .seconds(20)).output[section])
  }

  let yes = RemoteCommand(["true"])
  let no = RemoteCommand(["false"])
  func echo(_ text: String) -> RemoteCommand { RemoteCommand(["echo", text]) }

  @Test func andOrIfAndNegationKeepTheirMeaningWhenNested() async throws {
    let command = RemoteCommand.sequence([
      no.and(echo("no")).or(echo("a")),
      .if(no.negated, then: echo("b"), else: echo("no")),
      yes.or(no.and(echo("no"))).and(echo("c")),
      .if(yes.and(no), then: echo("no"), else: echo("d").then(echo("e"))),
    ])
    #expect(try await output(command).lines == ["a", "b", "c", "d", "e"])
  }

  @Test func hereDocumentsCarryTextAsItIs() async throws {
    let text = "line one\nDEPLOYCTL_END\n$HOME `id` 'q' \"d\"\n"
    let command = RemoteCommand(["cat"]).input(text).and(RemoteCommand(["cat"]).input("second"))
    #expect(
      try await output(command).lines == ["line one", "DEPLOYCTL_END", "$HOME `id` 'q' \"d\"", "second"])
  }

  @Test func pipesAndRedirections() async throws {
    let dir = try TemporaryDirectory()
    let file = dir.path + "/a file; $(touch pwned)"
    let command = RemoteCommand.all([
      echo("x").writing(to: file), echo("y").appending(to: file),
      RemoteCommand(["cat", file]).piped(to: RemoteCommand(["grep", "-c", "."])),
      RemoteCommand(["ls", "/no/such"]).silent.or(echo("silent")),
    ])
    #expect(try await output(command).lines == ["2", "silent"])
    #expect(!FileManager.default.fileExists(atPath: dir.path + "/pwned"))
  }

  @Test func failSaysWhyOnStderrAndExits() async throws {
    let section = try await output(RemoteCommand.fail("it's broken", status: 9).then(echo("never")))
    #expect(section == .init(lines: ["it's broken"], status: 9))
  }

  @Test func theRegistryPasswordTravelsOnlyInAHereDocument() {
    let login = RegistryLogin(server: "registry.example.com", username: "ci", password: "s3cret' $(x)")
    let command = DockerScripts.authenticated(
      ["pull", "img"], login: login, folder: "/var/lib/deployctl/web")
    #expect(!command.head.contains("s3cret"))
    #expect(command.bodies.contains { $0.hasPrefix("s3cret' $(x)\n") })
    #expect(command.head.contains("--password-stdin"))
  }
}

/// `DockerScripts.authenticated` run by the real `/bin/sh`, with a stand-in `docker` on PATH
/// that keeps what it was given.
@Suite struct AuthenticatedDockerTests {
  @Test func thePasswordReachesLoginOnStdinAndTheConfigFolderIsRemoved() async throws {
    let dir = try TemporaryDirectory()
    let bin = dir.path + "/bin"
    try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
    let log = dir.path + "/calls"
    let fake = """
      #!/bin/sh
      printf '%s\\n' "$*" >> '\(log)'
      if [ "$3" = login ]; then cat > '\(dir.path)/password'; [ -d "$2" ] && echo config-was-there >> '\(log)'; fi
      """
    try fake.write(toFile: bin + "/docker", atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/docker")
    let password = "p'a$s `w` \"d\"\nDEPLOYCTL_END"
    let login = RegistryLogin(server: "registry.example.com:5000", username: "ci user", password: password)
    let command = DockerScripts.authenticated(["pull", "img:v1"], login: login, folder: dir.path)
    var script = RemoteScript()
    // A function, not PATH: the shell reads the stand-in rather than exec'ing a file another
    // test's child may still hold open for writing (ETXTBSY would let the real docker run).
    script.add(RemoteCommand.program("docker() { /bin/sh \(ShellQuote.quote(bin + "/docker")) \"$@\"; }"))
    let pull = script.section("pull", command)
    let session = LocalShell.session()
    let output = try await session.run(script, timeout: .seconds(20)).output
    await session.close()
    #expect(output[pull]?.status == 0, "\(output[pull]?.output ?? "")")
    #expect(try String(contentsOfFile: dir.path + "/password", encoding: .utf8) == password + "\n")
    let calls = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
    #expect(calls.count == 3)
    #expect(calls[0].hasSuffix("login --username ci user --password-stdin registry.example.com:5000"))
    #expect(calls[1] == "config-was-there")
    #expect(calls[2].hasSuffix("pull img:v1"))
    let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
      $0.hasPrefix(".docker-config")
    }
    #expect(left.isEmpty, "the login's config folder is removed")
  }
}
