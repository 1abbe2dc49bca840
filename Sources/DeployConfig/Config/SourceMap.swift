/// Where each value of a model came from, by its path in the file (`ssh.port`,
/// `container.ports[1]`, `health.http.port`), so an error found later (a port already taken on
/// a host, a health check that never passes) can point at the line to change.
public struct SourceMap: Sendable, Hashable {
  public private(set) var entries: [String: SourceLocation]
  /// The file as a whole (the document's root node).
  public var root: SourceLocation

  public init(root: SourceLocation, entries: [String: SourceLocation] = [:]) {
    self.root = root
    self.entries = entries
  }

  public subscript(path: String) -> SourceLocation? {
    entries[path]
  }

  /// The closest recorded place for `path`: the value itself, else the mapping or list that
  /// holds it (a default lives nowhere in the file, its parent does), else the file.
  public func location(of path: String) -> SourceLocation {
    var current = Substring(path)
    while !current.isEmpty {
      if let location = entries[String(current)] { return location }
      guard let cut = current.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
      current = current[..<cut]
    }
    return root
  }

  mutating func record(_ path: String, _ location: SourceLocation) {
    entries[path] = location
  }
}

/// A dotted path to a value, as messages show it: `hosts.web1.port`, `container.ports[0]`.
struct ConfigPath: CustomStringConvertible, Hashable {
  var text: String

  static let root = ConfigPath(text: "")

  func key(_ key: String) -> ConfigPath {
    ConfigPath(text: text.isEmpty ? key : "\(text).\(key)")
  }

  func index(_ index: Int) -> ConfigPath {
    ConfigPath(text: "\(text)[\(index)]")
  }

  var description: String { text }

  /// "`ssh.port`", or "the file" for the root.
  var quoted: String { text.isEmpty ? "the file" : "`\(text)`" }
}
