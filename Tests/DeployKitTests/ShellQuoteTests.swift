import Foundation
import Testing

@testable import DeployConfig
@testable import DeployKit

/// Values a hostile or careless config could carry. Each must reach the program as one literal
/// argument, whatever shell runs the line.
let nastyValues: [String] = [
  "plain",
  "",
  "with space",
  "  leading and trailing  ",
  "it's",
  "'",
  "''",
  "\"double\"",
  "$(touch pwned)",
  "`touch pwned`",
  "${HOME}",
  "$HOME",
  "a;touch pwned",
  "a && touch pwned",
  "a | cat",
  "line1\nline2",
  "tab\there",
  "*",
  "/etc/*",
  "?",
  "[a-z]",
  "~",
  "~root",
  "back\\slash",
  "back\\'mix'\\",
  "!event",
  "# not a comment",
  "a=b",
  "-n",
  "--help",
  "é'\u{301}",  // a quote carrying a combining mark: one Character, still a quote byte
  "日本語 'quoted'",
  "\r\n",
  "}{)(><&",
]

/// The shells a remote host may run our line with: dash (Debian's /bin/sh), bash and busybox.
func availableShells() -> [[String]] {
  var shells: [[String]] = [["/bin/sh"]]
  if FileManager.default.isExecutableFile(atPath: "/bin/bash") { shells.append(["/bin/bash"]) }
  for busybox in ["/bin/busybox", "/usr/bin/busybox"]
  where FileManager.default.isExecutableFile(atPath: busybox) {
    shells.append([busybox, "sh"])
    break
  }
  return shells
}

@Test(arguments: availableShells())
func quotedValuesArriveLiterally(shell: [String]) async throws {
  let dir = try TemporaryDirectory()
  defer { dir.remove() }
  // NUL-separated so values with newlines compare exactly.
  let line = "printf '%s\\0' " + nastyValues.map(ShellQuote.quote).joined(separator: " ")
  let result = try await LocalProcess.run(shell[0], Array(shell.dropFirst()) + ["-c", line], in: dir.url)
  #expect(result.status == 0, "\(result.stderr)")
  var received = result.stdout.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
  #expect(received.last == "")
  received.removeLast()
  #expect(received == nastyValues)
  // Nothing was executed, nothing was globbed into a file.
  #expect(!FileManager.default.fileExists(atPath: dir.url.appendingPathComponent("pwned").path))
}

@Test func joinQuotesEveryArgument() async throws {
  let argv = ["printf", "%s|", "a b", "$(x)", "it's"]
  #expect(ShellQuote.join(argv) == #"printf '%s|' 'a b' '$(x)' 'it'\''s'"#)
  let result = try await LocalProcess.sh(ShellQuote.join(argv))
  #expect(result.stdout == "a b|$(x)|it's|")
}

@Test func safeWordsStayReadable() {
  #expect(
    ShellQuote.quote("registry.example.com:5000/acme/web@sha256:abc")
      == "registry.example.com:5000/acme/web@sha256:abc")
  #expect(ShellQuote.quote("--label=deployctl.app=web") == "--label=deployctl.app=web")
  #expect(ShellQuote.quote("") == "''")
  #expect(ShellQuote.quote("~") == "'~'")
  #expect(ShellQuote.quote("a b") == "'a b'")
  #expect("it's".shellQuoted == #"'it'\''s'"#)
}
