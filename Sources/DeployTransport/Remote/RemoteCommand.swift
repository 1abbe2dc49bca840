import DeployConfig

/// A command line for a remote POSIX shell (what `libssh2_channel_exec` sends). Built from an
/// argument vector, every word quoted, or from a script whose every value was quoted when it
/// was assembled. The remote login shell must be POSIX (sh, dash, bash, ksh, zsh): fish and csh
/// quote differently.
public struct RemoteCommand: Sendable, Hashable, CustomStringConvertible {
  /// The words, when the command is one program invocation; nil for a script.
  public let argv: [String]?
  /// What the remote shell runs.
  public let line: String

  public init(_ argv: [String]) {
    self.argv = argv
    line = ShellQuote.join(argv)
  }

  /// A script assembled from quoted values (see `ShellQuote`).
  public init(script: String) {
    argv = nil
    line = script
  }

  public var description: String { line }
}
