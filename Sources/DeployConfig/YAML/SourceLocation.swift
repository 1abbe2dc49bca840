/// A place in a configuration file, as editors and compilers show it: 1-based line and column
/// (columns count characters). A line of 0 means the file as a whole (it could not be read, or
/// the problem is not at one place in it).
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
  /// The path as the user gave it (relative stays relative), so messages can be clicked.
  public var file: String
  public var line: Int
  public var column: Int

  public init(file: String, line: Int, column: Int) {
    self.file = file
    self.line = line
    self.column = column
  }

  /// The file as a whole.
  public init(file: String) {
    self.init(file: file, line: 0, column: 0)
  }

  public var description: String {
    line > 0 ? "\(file):\(line):\(column)" : file
  }

  public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
    (a.file, a.line, a.column) < (b.file, b.line, b.column)
  }
}
