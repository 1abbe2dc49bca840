import Foundation

/// Where human-readable output goes and how it may look. ProgressLog goes to stderr so stdout
/// stays free for the JSON document.
public struct Terminal: Sendable {
  /// Colours and live updates are used only on a terminal, never in CI logs or pipes.
  public var colors: Bool
  /// GitHub Actions: errors also as `::error::` annotations, a summary in $GITHUB_STEP_SUMMARY.
  public var githubActions: Bool
  public var stepSummaryPath: String?
  private let write: @Sendable (String) -> Void

  public init(
    colors: Bool, githubActions: Bool = false, stepSummaryPath: String? = nil,
    write: @escaping @Sendable (String) -> Void
  ) {
    self.colors = colors
    self.githubActions = githubActions
    self.stepSummaryPath = stepSummaryPath
    self.write = write
  }

  /// The terminal of this process: stderr, colours only when it is a TTY and NO_COLOR is unset.
  public static func standardError(environment: [String: String] = ProcessInfo.processInfo.environment)
    -> Terminal
  {
    let tty = isatty(FileHandle.standardError.fileDescriptor) == 1
    let github = environment["GITHUB_ACTIONS"] == "true"
    return Terminal(
      colors: tty && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb",
      githubActions: github,
      stepSummaryPath: github ? environment["GITHUB_STEP_SUMMARY"] : nil,
      write: { text in FileHandle.standardError.write(Data(text.utf8)) })
  }

  /// Standard output, for tables a command prints as its result: colours only on a terminal.
  public static func standardOutput(environment: [String: String] = ProcessInfo.processInfo.environment)
    -> Terminal
  {
    let tty = isatty(FileHandle.standardOutput.fileDescriptor) == 1
    return Terminal(
      colors: tty && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb",
      write: { text in FileHandle.standardOutput.write(Data(text.utf8)) })
  }

  public func line(_ text: String) {
    write(text + "\n")
  }

  public func paint(_ text: String, _ color: Color) -> String {
    colors ? "\u{1B}[\(color.rawValue)m\(text)\u{1B}[0m" : text
  }

  /// An error for people, and for GitHub Actions an annotation it shows on the run.
  public func error(_ message: String) {
    line(paint("error: ", .red) + message)
    if githubActions { line(GitHubActions.annotation(.error, message)) }
  }

  public func warning(_ message: String) {
    line(paint("warning: ", .yellow) + message)
    if githubActions { line(GitHubActions.annotation(.warning, message)) }
  }

  public enum Color: String, Sendable {
    case red = "31"
    case green = "32"
    case yellow = "33"
    case dim = "2"
    case bold = "1"
  }
}

public enum GitHubActions {
  public enum Level: String, Sendable {
    case error
    case warning
    case notice
  }

  /// A workflow command (`::error::message`), with the message escaped the way the runner
  /// expects so a newline in an error cannot end the annotation or start another command.
  public static func annotation(_ level: Level, _ message: String, title: String? = nil) -> String {
    let escaped =
      message
      .replacingOccurrences(of: "%", with: "%25")
      .replacingOccurrences(of: "\r", with: "%0D")
      .replacingOccurrences(of: "\n", with: "%0A")
    if let title {
      let t = title.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: ",", with: "%2C")
        .replacingOccurrences(of: "\n", with: "%0A").replacingOccurrences(of: "::", with: "%3A%3A")
      return "::\(level.rawValue) title=\(t)::\(escaped)"
    }
    return "::\(level.rawValue)::\(escaped)"
  }

  /// Appends Markdown to the step summary file; the runner renders it on the job page.
  public static func appendSummary(_ markdown: String, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    if !FileManager.default.fileExists(atPath: path) {
      _ = FileManager.default.createFile(atPath: path, contents: nil)
    }
    let handle = try FileHandle(forWritingTo: url)
    // `write(contentsOf:)` is unbuffered: the summary is in the file (or has thrown) by now.
    defer { try? handle.close() }
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(markdown.utf8))
  }
}
