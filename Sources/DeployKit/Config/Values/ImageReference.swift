/// An image repository without tag or digest (`image:` in a plan): `registry.example.com/acme/web`,
/// `192.168.250.1:5000/app`, `nginx`. Checked against Docker's reference grammar, so a name
/// Docker would refuse is caught by `validate`, not on a host.
public struct ImageRepository: Sendable, Hashable, CustomStringConvertible {
  /// The registry host (and port), nil for Docker Hub.
  public var registry: String?
  /// The path inside the registry: `acme/web`.
  public var path: String

  public init(parsing text: String) throws(ValueError) {
    guard text.utf8.count <= 255 else { throw ValueError("an image name is at most 255 characters") }
    if text.contains("@") {
      throw ValueError(
        "`\(text)`: `image` is the repository only; the digest is given per deploy (`--image repo@sha256:…`)")
    }
    var components = text.split(separator: "/", omittingEmptySubsequences: false)
    if components.last?.contains(":") == true {
      throw ValueError(
        "`\(text)`: `image` is the repository only; the tag is given per deploy (`deployctl deploy ENV --image v2`)"
      )
    }
    var registry: String?
    if components.count > 1, let first = components.first,
      first.contains(".") || first.contains(":") || first == "localhost"
        || first.contains(where: \.isUppercase)
    {
      guard Self.isRegistry(first) else {
        throw ValueError(
          "`\(text)`: `\(first)` is not a registry host (`registry.example.com` or `host:5000`)")
      }
      registry = String(first)
      components.removeFirst()
    }
    for component in components where !Self.isPathComponent(component) {
      throw ValueError(
        "`\(text)`: `\(component)` is not a valid repository name part: lowercase letters, digits, and `.`, `_`, `__` or `-` between them"
      )
    }
    self.registry = registry
    self.path = components.joined(separator: "/")
  }

  public var description: String { (registry.map { "\($0)/" } ?? "") + path }

  /// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
  static func isPathComponent(_ s: Substring) -> Bool {
    let bytes = Array(s.utf8)
    guard let first = bytes.first, let last = bytes.last, Names.isLowerAlphanumeric(first),
      Names.isLowerAlphanumeric(last)
    else { return false }
    var i = 0
    while i < bytes.count {
      if Names.isLowerAlphanumeric(bytes[i]) {
        i += 1
        continue
      }
      var j = i
      while j < bytes.count && !Names.isLowerAlphanumeric(bytes[j]) { j += 1 }
      let separator = String(decoding: bytes[i..<j], as: UTF8.self)
      guard separator == "." || separator == "_" || separator == "__" || separator.allSatisfy({ $0 == "-" })
      else { return false }
      i = j
    }
    return true
  }

  /// `host[:port]`, host being dot-separated `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?` labels or
  /// a bracketed IPv6 address.
  static func isRegistry(_ s: Substring) -> Bool {
    var host = s
    if s.hasPrefix("[") {
      guard let close = s.firstIndex(of: "]") else { return false }
      host = s[s.index(after: s.startIndex)..<close]
      let rest = s[s.index(after: close)...]
      guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" }) else { return false }
      return rest.isEmpty || (rest.first == ":" && PortMapping.port(rest.dropFirst()) != nil)
    }
    if let colon = s.lastIndex(of: ":") {
      guard PortMapping.port(s[s.index(after: colon)...]) != nil else { return false }
      host = s[..<colon]
    }
    let labels = host.split(separator: ".", omittingEmptySubsequences: false)
    return labels.allSatisfy { label in
      guard let first = label.first, let last = label.last, first.isASCII, last.isASCII,
        first.isLetter || first.isNumber, last.isLetter || last.isNumber
      else { return false }
      return label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
  }
}

/// What `--image` names: a tag or digest of the plan's repository, or of another one.
/// `v2` and `sha256:…` use the plan's repository; `repo:tag` and `repo@sha256:…` name their own.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
  public var repository: ImageRepository
  public var tag: String?
  /// `sha256:` and 64 hex digits.
  public var digest: String?

  public init(repository: ImageRepository, tag: String? = nil, digest: String? = nil) {
    self.repository = repository
    self.tag = tag
    self.digest = digest
  }

  public init(parsing text: String, defaultRepository: ImageRepository) throws(ValueError) {
    let example = "give a tag (`v2`), `repo:tag` or `repo@sha256:<64 hex digits>`"
    var name = Substring(text)
    var digest: String?
    if let at = text.firstIndex(of: "@") {
      digest = String(text[text.index(after: at)...])
      name = text[..<at]
    } else if text.hasPrefix("sha256:") {
      digest = text
      name = ""
    }
    if let d = digest, !Self.isDigest(d) {
      throw ValueError("`\(text)`: `\(d)` is not a digest (`sha256:` and 64 lowercase hex digits)")
    }
    var tag: String?
    var repository = defaultRepository
    let lastSlash = name.lastIndex(of: "/")
    let tail = lastSlash.map { name[name.index(after: $0)...] } ?? name
    if let colon = tail.lastIndex(of: ":") {
      tag = String(tail[tail.index(after: colon)...])
      name = name[..<colon]
      repository = try ImageRepository(parsing: String(name))
    } else if !name.isEmpty {
      if lastSlash == nil && digest == nil {
        tag = String(name)  // a bare tag
      } else {
        repository = try ImageRepository(parsing: String(name))
      }
    }
    if let t = tag, !Self.isTag(t) {
      throw ValueError("`\(text)`: `\(t)` is not a tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`); \(example)")
    }
    guard tag != nil || digest != nil else {
      throw ValueError("`\(text)` names no tag or digest; \(example)")
    }
    self.init(repository: repository, tag: tag, digest: digest)
  }

  public var description: String {
    repository.description + (tag.map { ":\($0)" } ?? "") + (digest.map { "@\($0)" } ?? "")
  }

  static func isTag(_ s: String) -> Bool {
    guard let first = s.utf8.first, s.utf8.count <= 128,
      Names.isLetter(first) || Names.isDigit(first) || first == UInt8(ascii: "_")
    else { return false }
    return s.utf8.allSatisfy { Names.isLetter($0) || Names.isDigit($0) || "_.-".utf8.contains($0) }
  }

  static func isDigest(_ s: String) -> Bool {
    guard s.hasPrefix("sha256:") else { return false }
    let hex = s.dropFirst("sha256:".count)
    return hex.utf8.count == 64 && hex.utf8.allSatisfy { Names.isDigit($0) || (97...102).contains($0) }
  }
}
