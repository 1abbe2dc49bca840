/// A script for a host's POSIX shell, built from typed parts (`RemoteCommand`s, whose every value
/// was quoted when they were made). Each part runs as a named section: its output and exit status
/// come back delimited, so the answer is read section by section, never by searching free text.
///
///     ::deployctl:: section state
///     …what the part printed (stdout and stderr)…
///     ::deployctl:: status state 0
///
/// A `required` part that fails ends the script with its status; later parts do not run.
public struct RemoteScript: Sendable, Equatable {
  public private(set) var text = ""

  public init() {}

  static let sectionPrefix = "::deployctl:: section "
  static let statusPrefix = "::deployctl:: status "

  /// Runs `command` as section `name`. `required`: stop the script when it fails.
  public mutating func section(_ name: String, _ command: RemoteCommand, required: Bool = true) {
    precondition(name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" }, "section names are plain words")
    text += "printf '%s\\n' '\(Self.sectionPrefix)\(name)'\n"
    text += "{\n\(command.line)\n}\n"
    text += "s=$?; printf '\\n%s %s\\n' '\(Self.statusPrefix)\(name)' \"$s\"\n"
    if required { text += "[ \"$s\" -eq 0 ] || exit \"$s\"\n" }
  }

  /// Plain shell text between sections (already quoted).
  public mutating func raw(_ line: String) {
    text += line + "\n"
  }

  /// The script as one command for `exec`, where stdout and stderr arrive apart: stderr joins
  /// stdout so sections keep their messages.
  public var standalone: RemoteCommand { RemoteCommand(script: "{\n\(text)} 2>&1") }

  public var command: RemoteCommand { RemoteCommand(script: text) }
}

/// What a `RemoteScript` printed, section by section.
public struct RemoteScriptOutput: Sendable, Equatable {
  public struct Section: Sendable, Equatable {
    public var lines: [String]
    /// nil when the section did not finish (the script or the connection ended inside it).
    public var status: Int32?

    public var output: String { lines.joined(separator: "\n") }
    public var succeeded: Bool { status == 0 }
  }

  public private(set) var sections: [String: Section] = [:]
  /// Lines outside any section.
  public private(set) var other: [String] = []

  public init(lines: [String]) {
    var current: String?
    for line in lines {
      if line.hasPrefix(RemoteScript.sectionPrefix) {
        let name = String(line.dropFirst(RemoteScript.sectionPrefix.count))
        sections[name] = Section(lines: [], status: nil)
        current = name
      } else if line.hasPrefix(RemoteScript.statusPrefix) {
        let words = line.dropFirst(RemoteScript.statusPrefix.count).split(separator: " ")
        if words.count == 2, let status = Int32(words[1]) {
          let name = String(words[0])
          sections[name]?.status = status
          // The status line follows a newline printed for it: drop the empty line it leaves.
          if sections[name]?.lines.last == "" { sections[name]?.lines.removeLast() }
        }
        current = nil
      } else if let current {
        sections[current]?.lines.append(line)
      } else if !line.isEmpty {
        other.append(line)
      }
    }
  }

  public init(text: String) {
    self.init(lines: text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init))
  }

  public subscript(name: String) -> Section? { sections[name] }

  /// The first failed section's name and output, for an error message.
  public func failure(in order: [String]) -> (name: String, status: Int32, output: String)? {
    for name in order {
      guard let section = sections[name] else { continue }
      if let status = section.status, status != 0 { return (name, status, section.output) }
      if section.status == nil { return (name, -1, section.output) }
    }
    return nil
  }
}
