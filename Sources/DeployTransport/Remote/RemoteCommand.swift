import DeployConfig
import Foundation

/// A command for a remote POSIX shell (sh, dash, bash, ksh, zsh; fish and csh quote differently),
/// composed from typed parts so that every value is quoted (`ShellQuote`) and no caller joins
/// shell text by hand: a program invocation from its words, then `and`, `or`, `if`, pipes,
/// redirections and here-documents (for stdin) on top.
///
/// `line` is what the shell runs: one logical line, then the bodies of its here-documents (the
/// shell reads a here-document's body after the line that names it).
public struct RemoteCommand: Sendable, Hashable, CustomStringConvertible {
  /// The words, when the command is one program invocation with nothing around it.
  public let argv: [String]?
  /// The command on one line (no here-document bodies).
  let head: String
  /// The here-documents `head` refers to, in order: body lines then the delimiter.
  let bodies: [String]
  let shape: Shape

  /// How the shell groups the command when it is joined to another (POSIX grammar).
  enum Shape: Sendable, Hashable {
    /// A simple or compound command (`cmd args`, `if … fi`, `{ …; }`): safe anywhere.
    case command
    /// `a | b`.
    case pipeline
    /// `a && b || c`.
    case andOr
    /// `a; b` or `a &`.
    case list
  }

  /// One program invocation: every word quoted.
  public init(_ argv: [String]) {
    self.argv = argv
    head = ShellQuote.join(argv)
    bodies = []
    shape = .command
  }

  /// One program invocation whose words may name shell variables (`ShellWord.variable`).
  public init(words: [ShellWord]) {
    argv = nil
    head = words.map(\.text).joined(separator: " ")
    bodies = []
    shape = .command
  }

  /// `NAME=$(command)`: keeps what `command` prints (a name only the host knows, like
  /// `mktemp`'s) for later commands, as `ShellWord.variable(NAME)`.
  public static func assign(_ name: String, outputOf command: RemoteCommand) -> RemoteCommand {
    precondition(ShellWord.isName(name), "a shell variable name")
    precondition(command.bodies.isEmpty, "no here-document inside a command substitution")
    return RemoteCommand(head: "\(name)=$(\(command.head))", shape: .command)
  }

  private init(head: String, bodies: [String] = [], shape: Shape) {
    argv = nil
    self.head = head
    self.bodies = bodies
    self.shape = shape
  }

  /// A POSIX sh program written out by hand, for what the typed parts do not express (the lock's
  /// lease arithmetic, globs, loops). Every value in it must come through `ShellQuote`; each use
  /// is reviewed as shell, and the program runs in a group of its own, so its `exit` and its
  /// variables behave as in a script.
  package static func program(_ text: String) -> RemoteCommand {
    RemoteCommand(head: "{\n\(text)\n}", shape: .command)
  }

  /// A command line the user typed for the host's shell (`deployctl exec --shell`), sent as it is.
  public static func userCommandLine(_ text: String) -> RemoteCommand {
    RemoteCommand(head: text, shape: .list)
  }

  /// What the remote shell runs.
  public var line: String {
    bodies.isEmpty ? head : head + "\n" + bodies.joined(separator: "\n")
  }

  public var description: String { line }

  // MARK: Composition

  /// `self && next`.
  public func and(_ next: RemoteCommand) -> RemoteCommand {
    join(" && ", next)
  }

  /// `self || next`.
  public func or(_ next: RemoteCommand) -> RemoteCommand {
    join(" || ", next)
  }

  /// `self | next`.
  public func piped(to next: RemoteCommand) -> RemoteCommand {
    RemoteCommand(
      head: grouped(upTo: .pipeline) + " | " + next.grouped(upTo: .command),
      bodies: bodies + next.bodies, shape: .pipeline)
  }

  /// `self; next`: `next` runs whatever `self` did.
  public func then(_ next: RemoteCommand) -> RemoteCommand {
    RemoteCommand(head: head + "; " + next.head, bodies: bodies + next.bodies, shape: .list)
  }

  /// The commands one after the other (`true` when there are none).
  public static func sequence(_ commands: [RemoteCommand]) -> RemoteCommand {
    guard let first = commands.first else { return success }
    return commands.dropFirst().reduce(first) { $0.then($1) }
  }

  /// Every command, each only if the one before succeeded (`true` when there are none).
  public static func all(_ commands: [RemoteCommand]) -> RemoteCommand {
    guard let first = commands.first else { return success }
    return commands.dropFirst().reduce(first) { $0.and($1) }
  }

  /// `if condition; then body; [else otherwise;] fi`.
  public static func `if`(
    _ condition: RemoteCommand, then body: RemoteCommand, else otherwise: RemoteCommand? = nil
  ) -> RemoteCommand {
    var head = "if \(condition.head); then \(body.head); "
    if let otherwise { head += "else \(otherwise.head); " }
    return RemoteCommand(
      head: head + "fi", bodies: condition.bodies + body.bodies + (otherwise?.bodies ?? []), shape: .command)
  }

  /// `! self`: succeeds when `self` fails.
  public var negated: RemoteCommand {
    RemoteCommand(head: "! " + grouped(upTo: .pipeline), bodies: bodies, shape: .pipeline)
  }

  /// `( self )`: runs in a subshell, so its `exit`, `cd`, `umask` and variables stay there.
  public var subshell: RemoteCommand {
    RemoteCommand(head: "( \(head) )", bodies: bodies, shape: .command)
  }

  /// `self &`: started, not waited for.
  public var inBackground: RemoteCommand {
    RemoteCommand(head: "{ \(head) & }", bodies: bodies, shape: .command)
  }

  /// `true`.
  public static let success = RemoteCommand(["true"])

  /// `exit STATUS`: ends the script (or the subshell).
  public static func exit(_ status: Int32) -> RemoteCommand {
    RemoteCommand(head: "exit \(status)", shape: .command)
  }

  /// Says `message` on stderr and exits with `status`.
  public static func fail(_ message: String, status: Int32 = 1) -> RemoteCommand {
    RemoteCommand(["printf", "%s\\n", message]).toErrors.then(exit(status)).grouped
  }

  // MARK: Redirections

  /// `self >/dev/null`: stdout dropped.
  public var quiet: RemoteCommand { redirected(">/dev/null") }

  /// `self >/dev/null 2>&1`: both streams dropped.
  public var silent: RemoteCommand { redirected(">/dev/null 2>&1") }

  /// `self 2>/dev/null`: stderr dropped.
  public var withoutErrors: RemoteCommand { redirected("2>/dev/null") }

  /// `self 2>&1`: stderr joins stdout.
  public var mergingErrors: RemoteCommand { redirected("2>&1") }

  /// `self >&2`: stdout goes to stderr.
  public var toErrors: RemoteCommand { redirected(">&2") }

  /// `self > PATH`.
  public func writing(to path: String) -> RemoteCommand { writing(to: ShellWord(path)) }

  /// `self > PATH`, a path that may name a shell variable.
  public func writing(to path: ShellWord) -> RemoteCommand { redirected("> " + path.text) }

  /// `self >> PATH`.
  public func appending(to path: String) -> RemoteCommand { redirected(">> " + ShellQuote.quote(path)) }

  /// `self` with `text` on its stdin, as a here-document: the text travels inside the script,
  /// never on a command line. The delimiter is quoted (no expansion in the text) and chosen so
  /// that no line of the text ends it early.
  public func input(_ text: String) -> RemoteCommand {
    var delimiter = "DEPLOYCTL_END"
    while text.split(separator: "\n", omittingEmptySubsequences: false).contains(where: { $0 == delimiter }) {
      delimiter += "_"
    }
    let body = text + (text.hasSuffix("\n") || text.isEmpty ? "" : "\n") + delimiter
    var command = redirected("<<'\(delimiter)'")
    command = RemoteCommand(head: command.head, bodies: command.bodies + [body], shape: command.shape)
    return command
  }

  // MARK: Rendering

  private func redirected(_ redirection: String) -> RemoteCommand {
    RemoteCommand(head: grouped(upTo: .command) + " " + redirection, bodies: bodies, shape: .command)
  }

  private func join(_ op: String, _ next: RemoteCommand) -> RemoteCommand {
    // `&&` and `||` group from the left: the left side may itself be such a list.
    RemoteCommand(
      head: grouped(upTo: .andOr) + op + next.grouped(upTo: .pipeline), bodies: bodies + next.bodies,
      shape: .andOr)
  }

  /// `{ self; }`, a command that joins to anything.
  var grouped: RemoteCommand {
    shape == .command ? self : RemoteCommand(head: "{ \(head); }", bodies: bodies, shape: .command)
  }

  /// `head`, braced unless its shape binds at least as tightly as `limit`.
  private func grouped(upTo limit: Shape) -> String {
    let rank: [Shape: Int] = [.command: 0, .pipeline: 1, .andOr: 2, .list: 3]
    return (rank[shape] ?? 3) <= (rank[limit] ?? 0) ? head : "{ \(head); }"
  }
}

/// A word of a `RemoteCommand(words:)`: a value, quoted, or a shell variable an earlier command
/// set (`RemoteCommand.assign`), double-quoted so it stays one word.
public struct ShellWord: Sendable, Hashable, ExpressibleByStringLiteral {
  let text: String

  public init(_ value: String) { text = ShellQuote.quote(value) }
  public init(stringLiteral value: String) { self.init(value) }

  /// `"$NAME"`, then `suffix` (a value, quoted): `.variable("dir", "/login.log")`.
  public static func variable(_ name: String, _ suffix: String = "") -> ShellWord {
    precondition(isName(name), "a shell variable name")
    return ShellWord(text: "\"$\(name)\"" + (suffix.isEmpty ? "" : ShellQuote.quote(suffix)))
  }

  /// `"$(COMMAND)"`: what `command` prints, as one word (its trailing newlines dropped).
  public static func output(of command: RemoteCommand) -> ShellWord {
    precondition(command.bodies.isEmpty, "no here-document inside a command substitution")
    return ShellWord(text: "\"$(\(command.head))\"")
  }

  private init(text: String) { self.text = text }

  static func isName(_ name: String) -> Bool {
    !name.isEmpty && name.first?.isNumber == false
      && name.unicodeScalars.allSatisfy {
        $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_")
      }
  }
}
