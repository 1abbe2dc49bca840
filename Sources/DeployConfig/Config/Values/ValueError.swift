/// Why a value a user wrote cannot be used. Says what was expected, with an example, so the
/// diagnostic that wraps it (adding file:line:col) tells the user how to fix it.
public struct ValueError: Error, Sendable, Equatable, CustomStringConvertible {
  public var message: String

  public init(_ message: String) {
    self.message = message
  }

  public var description: String { message }
}
