import Foundation

/// Limits on what a configuration file may be. They keep a hostile or broken file (a
/// "billion laughs" alias bomb, a megabyte of nesting) from costing more than a moment.
public struct YAMLLimits: Sendable {
  public var maxFileSize: Int
  public var maxDepth: Int
  /// Nodes after alias expansion.
  public var maxNodes: Int

  public init(maxFileSize: Int = 1 << 20, maxDepth: Int = 64, maxNodes: Int = 100_000) {
    self.maxFileSize = maxFileSize
    self.maxDepth = maxDepth
    self.maxNodes = maxNodes
  }

  public static let `default` = YAMLLimits()
}

/// A parsed file: its root node, and the duplicate keys found in it. A duplicate key is an
/// error, but the rest of the file can still be checked, so callers that collect every
/// problem (validation) get the tree too; the first occurrence of a duplicated key is kept.
public struct YAMLDocument: Sendable {
  public var root: YAMLNode
  public var duplicateKeys: [YAMLError]
}

/// YAML files read through libyaml's event parser into `YAMLNode` trees.
public enum YAML {
  /// Parses one document, refusing everything `YAMLError.Kind` lists, duplicate keys included.
  /// An empty file is a null scalar at 1:1.
  public static func parse(
    _ bytes: some Collection<UInt8>, file: String, limits: YAMLLimits = .default
  ) throws(YAMLError) -> YAMLNode {
    let document = try parseDocument(bytes, file: file, limits: limits)
    if let first = document.duplicateKeys.first { throw first }
    return document.root
  }

  public static func parse(_ text: String, file: String, limits: YAMLLimits = .default) throws(YAMLError)
    -> YAMLNode
  {
    try parse(Array(text.utf8), file: file, limits: limits)
  }

  /// Reads and parses a file; `file` is the path as messages should show it.
  public static func load(path: String, file: String? = nil, limits: YAMLLimits = .default) throws(YAMLError)
    -> YAMLNode
  {
    try parse(readFile(path: path, file: file ?? path, limits: limits), file: file ?? path, limits: limits)
  }

  /// Like `parse`, but duplicate keys are returned with the tree instead of thrown.
  public static func parseDocument(
    _ bytes: some Collection<UInt8>, file: String, limits: YAMLLimits = .default
  ) throws(YAMLError) -> YAMLDocument {
    let bytes = Array(bytes)
    if bytes.count > limits.maxFileSize {
      throw YAMLError(
        .tooLarge, at: SourceLocation(file: file),
        "file is \(bytes.count) bytes; configuration files may be at most \(limits.maxFileSize) bytes")
    }
    if let bad = firstInvalidUTF8(bytes) {
      let (line, column) = position(ofByte: bad, in: bytes)
      throw YAMLError(
        .invalidUTF8, at: SourceLocation(file: file, line: line, column: column),
        "invalid UTF-8 (byte 0x\(String(bytes[bad], radix: 16, uppercase: true))); save the file as UTF-8")
    }
    var builder = TreeBuilder(file: file, limits: limits)
    let parser = LibYAMLParser(bytes: bytes)
    while true {
      let event: YAMLEvent
      do {
        event = try parser.next()
      } catch {
        var location = SourceLocation(file: file, line: error.line, column: error.column)
        if let offset = error.offset {
          let (line, column) = position(ofByte: min(offset, bytes.count), in: bytes)
          location = SourceLocation(file: file, line: line, column: column)
        }
        var message = error.message
        if character(atLine: location.line, column: location.column, in: bytes) == UInt8(ascii: "\t") {
          message += "; YAML indents with spaces, never tabs"
        }
        throw YAMLError(.syntax, at: location, message)
      }
      if try builder.consume(event) { break }
    }
    return YAMLDocument(root: builder.root, duplicateKeys: builder.duplicateKeys)
  }

  /// Reads at most `limits.maxFileSize` bytes, refusing bigger files without reading them.
  public static func readFile(path: String, file: String, limits: YAMLLimits = .default) throws(YAMLError)
    -> [UInt8]
  {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { throw unreadable(file, errno) }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw unreadable(file, errno) }
    if (info.st_mode & S_IFMT) == S_IFDIR {
      throw YAMLError(.unreadable, at: SourceLocation(file: file), "is a directory, not a YAML file")
    }
    if Int(info.st_size) > limits.maxFileSize {
      throw YAMLError(
        .tooLarge, at: SourceLocation(file: file),
        "file is \(info.st_size) bytes; configuration files may be at most \(limits.maxFileSize) bytes")
    }
    // Read one byte past the limit, in case the file grew since fstat.
    var bytes = [UInt8](repeating: 0, count: limits.maxFileSize + 1)
    var count = 0
    while count < bytes.count {
      let n = bytes.withUnsafeMutableBytes { buffer in
        // Never empty (the limit plus one byte), so it has an address.
        guard let start = buffer.baseAddress else { return 0 }
        return read(fd, start + count, buffer.count - count)
      }
      if n < 0 {
        if errno == EINTR { continue }
        throw unreadable(file, errno)
      }
      if n == 0 { break }
      count += n
    }
    bytes.removeSubrange(count...)
    return bytes
  }

  private static func unreadable(_ file: String, _ code: Int32) -> YAMLError {
    YAMLError(.unreadable, at: SourceLocation(file: file), "cannot read: \(String(cString: strerror(code)))")
  }

  /// The index of the first byte that is not part of a valid UTF-8 sequence, if any.
  static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
    var i = 0
    while i < bytes.count {
      let b = bytes[i]
      let length: Int
      var lower: UInt8 = 0x80
      var upper: UInt8 = 0xBF
      switch b {
      case 0x00...0x7F:
        i += 1
        continue
      case 0xC2...0xDF: length = 2
      case 0xE0:
        length = 3
        lower = 0xA0
      case 0xE1...0xEC, 0xEE...0xEF: length = 3
      case 0xED:
        length = 3
        upper = 0x9F
      case 0xF0:
        length = 4
        lower = 0x90
      case 0xF1...0xF3: length = 4
      case 0xF4:
        length = 4
        upper = 0x8F
      default: return i
      }
      guard i + length <= bytes.count else { return i }
      guard (lower...upper).contains(bytes[i + 1]) else { return i }
      for j in 2..<length where !(0x80...0xBF).contains(bytes[i + j]) { return i }
      i += length
    }
    return nil
  }

  /// The first byte of the character at a 1-based line and column, if there is one.
  static func character(atLine line: Int, column: Int, in bytes: [UInt8]) -> UInt8? {
    var l = 1
    var c = 1
    for b in bytes {
      if l == line && c == column && b & 0xC0 != 0x80 { return b }
      if b == 0x0A {
        l += 1
        c = 1
      } else if b & 0xC0 != 0x80 {
        c += 1
      }
      if l > line { return nil }
    }
    return nil
  }

  /// 1-based line and column (in characters) of a byte offset.
  static func position(ofByte offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
    var line = 1
    var column = 1
    for b in bytes[..<offset] {
      if b == 0x0A {
        line += 1
        column = 1
      } else if b & 0xC0 != 0x80 {
        column += 1
      }
    }
    return (line, column)
  }
}

/// Builds the node tree from libyaml's events, enforcing the limits as it goes so that a
/// bad file stops at the first event past a limit.
private struct TreeBuilder {
  private struct Frame {
    var isMapping: Bool
    var location: SourceLocation
    var anchor: String?
    var tag: String?
    var items: [YAMLNode] = []
    var pairs: [YAMLPair] = []
    var pendingKey: YAMLNode?
    /// Keys seen so far and where, for duplicates.
    var seen: [String: SourceLocation] = [:]
    /// Nodes in this subtree so far (itself included), and its nesting height.
    var size = 1
    var height = 1
  }

  private struct Anchored {
    var node: YAMLNode
    var size: Int
    var height: Int
  }

  let file: String
  let limits: YAMLLimits
  private var stack: [Frame] = []
  private var anchors: [String: Anchored] = [:]
  private var documents = 0
  private var totalNodes = 0
  private var document: YAMLNode?
  private(set) var duplicateKeys: [YAMLError] = []

  init(file: String, limits: YAMLLimits) {
    self.file = file
    self.limits = limits
  }

  var root: YAMLNode {
    document ?? YAMLNode(.scalar(YAMLScalar("")), location: SourceLocation(file: file, line: 1, column: 1))
  }

  /// Returns true at the end of the stream.
  mutating func consume(_ event: YAMLEvent) throws(YAMLError) -> Bool {
    let location = SourceLocation(file: file, line: event.line, column: event.column)
    switch event.kind {
    case .streamStart, .documentEnd:
      break
    case .streamEnd:
      return true
    case .documentStart:
      documents += 1
      if documents > 1 {
        throw YAMLError(
          .multipleDocuments, at: location,
          "a second YAML document (`---`) in this file; each inventory or plan is one document in its own file"
        )
      }
      anchors = [:]
    case .alias(let name):
      guard let anchored = anchors[name] else {
        let open = stack.contains { $0.anchor == name }
        throw YAMLError(
          .unknownAlias, at: location,
          open
            ? "alias `*\(name)` refers to the node that contains it"
            : "alias `*\(name)` has no anchor `&\(name)` before it")
      }
      try count(anchored.size, at: location, alias: name)
      if stack.count + anchored.height > limits.maxDepth {
        throw tooDeep(location)
      }
      try add(anchored.node, size: anchored.size, height: anchored.height)
    case .scalar(let scalar, let anchor, let tag):
      try count(1, at: location, alias: nil)
      let node = YAMLNode(.scalar(scalar), location: location, tag: Self.explicit(tag))
      if let anchor { anchors[anchor] = Anchored(node: node, size: 1, height: 0) }
      try add(node, size: 1, height: 0)
    case .sequenceStart(let anchor, let tag):
      try open(mapping: false, at: location, anchor: anchor, tag: tag)
    case .mappingStart(let anchor, let tag):
      try open(mapping: true, at: location, anchor: anchor, tag: tag)
    case .sequenceEnd, .mappingEnd:
      let frame = stack.removeLast()
      let node: YAMLNode
      if frame.isMapping {
        node = YAMLNode(
          .mapping(try resolveMerges(frame.pairs)), location: frame.location, tag: Self.explicit(frame.tag))
      } else {
        node = YAMLNode(.sequence(frame.items), location: frame.location, tag: Self.explicit(frame.tag))
      }
      if let anchor = frame.anchor {
        anchors[anchor] = Anchored(node: node, size: frame.size, height: frame.height)
      }
      try add(node, size: frame.size, height: frame.height)
    }
    return false
  }

  private mutating func open(mapping: Bool, at location: SourceLocation, anchor: String?, tag: String?)
    throws(YAMLError)
  {
    if stack.count + 1 > limits.maxDepth { throw tooDeep(location) }
    try count(1, at: location, alias: nil)
    stack.append(Frame(isMapping: mapping, location: location, anchor: anchor, tag: tag))
  }

  private func tooDeep(_ location: SourceLocation) -> YAMLError {
    YAMLError(.tooDeep, at: location, "nesting deeper than \(limits.maxDepth) levels")
  }

  private mutating func count(_ nodes: Int, at location: SourceLocation, alias: String?) throws(YAMLError) {
    totalNodes += nodes
    guard totalNodes > limits.maxNodes else { return }
    if let alias {
      throw YAMLError(
        .tooManyNodes, at: location,
        "alias `*\(alias)` expands the document past \(limits.maxNodes) nodes (an alias bomb?)")
    }
    throw YAMLError(.tooManyNodes, at: location, "more than \(limits.maxNodes) nodes in one document")
  }

  private mutating func add(_ node: YAMLNode, size: Int, height: Int) throws(YAMLError) {
    guard !stack.isEmpty else {
      document = node
      return
    }
    let top = stack.count - 1
    stack[top].size += size
    stack[top].height = max(stack[top].height, height + 1)
    guard stack[top].isMapping else {
      stack[top].items.append(node)
      return
    }
    guard let key = stack[top].pendingKey else {
      stack[top].pendingKey = node
      return
    }
    stack[top].pendingKey = nil
    if let text = key.scalar?.text, !isMergeKey(key) {
      if let first = stack[top].seen[text] {
        duplicateKeys.append(
          YAMLError(
            .duplicateKey, at: key.location,
            "duplicate key `\(text)` (first defined at line \(first.line), column \(first.column))"))
        return
      }
      stack[top].seen[text] = key.location
    }
    stack[top].pairs.append(YAMLPair(key: key, value: node))
  }

  private func isMergeKey(_ key: YAMLNode) -> Bool {
    key.isPlainScalar && key.scalar?.text == "<<"
  }

  /// `<<: *defaults` (or a list of aliases): keys of the merged mappings that the mapping
  /// does not set itself, in place of the `<<` entry. Earlier mappings in a list win.
  private func resolveMerges(_ pairs: [YAMLPair]) throws(YAMLError) -> [YAMLPair] {
    guard pairs.contains(where: { isMergeKey($0.key) }) else { return pairs }
    var present = Set(pairs.filter { !isMergeKey($0.key) }.compactMap { $0.key.scalar?.text })
    var result: [YAMLPair] = []
    for pair in pairs {
      guard isMergeKey(pair.key) else {
        result.append(pair)
        continue
      }
      let sources: [YAMLNode]
      switch pair.value.value {
      case .mapping: sources = [pair.value]
      case .sequence(let items): sources = items
      case .scalar:
        throw YAMLError(
          .invalidMerge, at: pair.value.location, "merge key `<<` needs a mapping or a list of mappings")
      }
      for source in sources {
        guard let merged = source.mapping else {
          throw YAMLError(
            .invalidMerge, at: source.location, "merge key `<<` needs a mapping or a list of mappings")
        }
        for entry in merged {
          guard let text = entry.key.scalar?.text, !present.contains(text) else { continue }
          present.insert(text)
          result.append(entry)
        }
      }
    }
    return result
  }

  /// libyaml reports the non-specific tag `!` for quoted scalars; only real tags matter.
  private static func explicit(_ tag: String?) -> String? {
    guard let tag, tag != "!" else { return nil }
    return tag
  }
}
