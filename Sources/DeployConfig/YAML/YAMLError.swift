/// A YAML file that cannot be used, and where. Parse errors carry libyaml's own line, column
/// and problem text; the limits deployctl adds (one document, nesting, size, aliases) say which
/// limit and why.
public struct YAMLError: DeployctlError, Equatable {
  public enum Kind: Sendable, Equatable {
    /// The file could not be read (missing, a folder, no permission).
    case unreadable
    case tooLarge
    case invalidUTF8
    /// libyaml refused the text.
    case syntax
    case multipleDocuments
    case tooDeep
    /// Aliases (or sheer size) make the document bigger than the node limit.
    case tooManyNodes
    case unknownAlias
    case duplicateKey
    case invalidMerge
  }

  public var kind: Kind
  public var location: SourceLocation
  public var message: String

  public init(_ kind: Kind, at location: SourceLocation, _ message: String) {
    self.kind = kind
    self.location = location
    self.message = message
  }

  public var exitStatus: ExitStatus { .refused }

  public var description: String { "\(location): error: \(message)" }
}
