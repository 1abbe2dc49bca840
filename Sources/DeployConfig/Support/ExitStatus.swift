/// The process exit codes (docs/exit-codes.md). Scripts and CI jobs branch on these.
public enum ExitStatus: Int32, Sendable, CaseIterable {
  /// Every targeted host runs the requested release and is healthy.
  case success = 0
  /// Failed, and every touched host is back on its previous release.
  case failedRestored = 1
  /// Refused before touching anything: bad arguments, invalid files, promote preconditions.
  case refused = 2
  /// Failed and could not restore everything: a person must look.
  case needsAttention = 3
  /// The environment is locked by another run.
  case locked = 4
}

/// An error that knows which exit code it means for the user. Every layer's error enum
/// conforms, so the command line can map any failure to its exit code (docs/exit-codes.md).
public protocol DeployctlError: Error, CustomStringConvertible, Sendable {
  var exitStatus: ExitStatus { get }
}
