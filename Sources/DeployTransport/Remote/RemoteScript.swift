import DeployConfig

/// A script for a host's POSIX shell, built from `RemoteCommand`s. Each part runs as a section:
/// its output (stdout and stderr) and exit status come back between marker lines, so the answer
/// is read section by section, never by searching free text.
///
///     ::deployctl:5f0c…:: section 1 state
///     …what the part printed…
///     ::deployctl:5f0c…:: status 1 0
///
/// The markers carry a token drawn at random for each script, so output (a log tail, a file's
/// contents) cannot fake a section or a status. `section` returns the handle by which its output
/// is read and its failure judged.
public struct RemoteScript: Sendable {
  /// A section of one script: read its output with `RemoteScriptOutput[section]`.
  public struct Section: Sendable, Hashable {
    public let name: String
    let index: Int
    public let failure: Failure
  }

  /// What a section's failure (non-zero status, or no status: the script ended inside it) does.
  public enum Failure: Sendable, Hashable {
    /// The script ends with its status, later sections do not run; the step fails.
    case stops
    /// The script goes on (later sections must run: an unlock), then the step fails.
    case fails
    /// Part of the answer, read by the caller (`docker inspect` of a container that may not
    /// exist): the step does not fail.
    case isAnswer
  }

  public let token: String
  public private(set) var sections: [Section] = []
  private var parts: [String] = []

  /// `token`: the markers' random part (tests give their own).
  public init(token: String = RemoteScript.randomToken()) {
    precondition(token.allSatisfy { $0.isLetter || $0.isNumber }, "a token is letters and digits")
    self.token = token
  }

  public static func randomToken() -> String {
    (0..<2).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined()
  }

  var marker: String { "::deployctl:\(token)::" }

  /// Runs `command` as a section called `name` (in messages: `prepare (pull)`).
  @discardableResult
  public mutating func section(_ name: String, _ command: RemoteCommand, failure: Failure = .stops) -> Section
  {
    let section = Section(name: name, index: sections.count, failure: failure)
    sections.append(section)
    let start = ShellQuote.quote("\(marker) section \(section.index) \(name)")
    let end = ShellQuote.quote("\(marker) status \(section.index)")
    // The marker lines start on a line of their own whatever the part printed before them. The
    // part runs in a subshell: its `exit` ends the part, whose status is then reported.
    var text = "printf '\\n%s\\n' \(start)\n(\n\(command.line)\n)\n"
    text += "s=$?; printf '\\n%s %s\\n' \(end) \"$s\""
    if failure == .stops { text += "\n[ \"$s\" -eq 0 ] || exit \"$s\"" }
    parts.append(text)
    return section
  }

  /// Runs `command` between sections, with no output of its own (a guard that ends the script,
  /// work left in the background).
  public mutating func add(_ command: RemoteCommand) {
    parts.append(command.line)
  }

  /// The script's text, for a shell that reads it on its stdin.
  public var text: String { parts.joined(separator: "\n") + "\n" }
}

/// What a `RemoteScript` printed, section by section.
public struct RemoteScriptOutput: Sendable, Equatable {
  public struct Section: Sendable, Equatable {
    public var lines: [String]
    /// nil when the section did not finish (the script or the connection ended inside it).
    public var status: Int32?

    public init(lines: [String], status: Int32?) {
      self.lines = lines
      self.status = status
    }

    public var output: String { lines.joined(separator: "\n") }
    public var succeeded: Bool { status == 0 }
    /// The last line that is not empty (a command's answer after any warnings).
    public var lastLine: String { lines.last { !$0.isEmpty } ?? "" }
  }

  /// By section index.
  public private(set) var sections: [Int: Section] = [:]
  /// Lines outside any section.
  public private(set) var other: [String] = []

  /// Reads the lines `script` printed (its markers carry `token`).
  public init(lines: [String], token: String) {
    let marker = "::deployctl:\(token):: "
    var current: Int?
    for line in lines {
      if line.hasPrefix(marker) {
        let words = line.dropFirst(marker.count).split(separator: " ")
        if words.count >= 2, words[0] == "section", let index = Int(words[1]) {
          sections[index] = Section(lines: [], status: nil)
          current = index
          continue
        }
        if words.count == 3, words[0] == "status", let index = Int(words[1]), let status = Int32(words[2]) {
          sections[index]?.status = status
          // The status line follows a newline printed for it: drop the empty line it leaves.
          if sections[index]?.lines.last == "" { sections[index]?.lines.removeLast() }
          current = nil
          continue
        }
      }
      if let current {
        sections[current]?.lines.append(line)
      } else if !line.isEmpty {
        other.append(line)
      }
    }
  }

  public init(text: String, token: String) {
    self.init(
      lines: text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init), token: token)
  }

  /// The section's output; nil when the script ended before it began.
  public subscript(section: RemoteScript.Section) -> Section? { sections[section.index] }

  /// The first section of `script` whose failure fails the step: its name, status (-1: it did
  /// not finish) and output. Also a script that ended before its first section (the shell
  /// itself refused it).
  public func failure(of script: RemoteScript) -> (name: String, status: Int32, output: String)? {
    for section in script.sections where section.failure != .isAnswer {
      guard let output = self[section] else { continue }
      guard let status = output.status else { return (section.name, -1, output.output) }
      if status != 0 { return (section.name, status, output.output) }
    }
    if sections.isEmpty, !other.isEmpty, !script.sections.isEmpty {
      return ("", 1, other.joined(separator: "\n"))
    }
    return nil
  }
}
