/// A content digest, `sha256:` and 64 lowercase hex digits: what every host runs once a tag has
/// been resolved (docs/commands.md "deploy": a tag is resolved once, before any host changes).
public struct ImageDigest: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
  /// `sha256:<64 hex>`.
  public let value: String

  public init(_ text: String) throws(DockerError) {
    guard text.hasPrefix("sha256:") else {
      let reason = text.contains(":") ? "only sha256 digests are supported" : "missing the sha256: prefix"
      throw .invalidDigest(text, reason: reason)
    }
    let hex = text.utf8.dropFirst("sha256:".utf8.count)
    guard hex.count == 64 else {
      throw .invalidDigest(text, reason: "\(hex.count) hex digits instead of 64")
    }
    guard hex.allSatisfy({ $0.isLowerHex }) else {
      throw .invalidDigest(text, reason: "only 0-9 and a-f may follow sha256:")
    }
    value = text
  }

  /// The 64 hex digits.
  public var hex: Substring { value.dropFirst("sha256:".count) }
  /// The first 12 hex digits, as `docker images` shows them.
  public var short: String { String(hex.prefix(12)) }
  public var description: String { value }

  public static func < (lhs: ImageDigest, rhs: ImageDigest) -> Bool { lhs.value < rhs.value }

  public init(from decoder: Decoder) throws {
    let text = try decoder.singleValueContainer().decode(String.self)
    try self.init(text)
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(value)
  }
}

/// An image reference as Docker understands it: `[registry[:port]/]path[:tag][@sha256:…]`.
///
/// The colon of a registry port is not a tag separator: a tag follows the last `/`
/// (`registry:5000/acme/web` has no tag, `registry:5000/acme/web:v2` has tag `v2`).
public struct ImageReference: Sendable, Hashable, Codable, CustomStringConvertible {
  /// `[registry[:port]/]path`, as given (`registry.example.com/acme/web`, `nginx`).
  public let repository: String
  public let tag: String?
  public let digest: ImageDigest?

  public init(repository: String, tag: String? = nil, digest: ImageDigest? = nil) throws(DockerError) {
    try Self.validateRepository(repository)
    if let tag { try Self.validateTag(tag, in: repository + ":" + tag) }
    self.init(checked: repository, tag: tag, digest: digest)
  }

  /// `caddy:2`, the official Caddy image: the default of `proxy.image`.
  public static let caddy = ImageReference(checked: "caddy", tag: "2", digest: nil)

  /// Fields already validated (taken from a reference that was).
  private init(checked repository: String, tag: String?, digest: ImageDigest?) {
    self.repository = repository
    self.tag = tag
    self.digest = digest
  }

  /// Parses what `--image` (or `rollback --to`) accepts:
  /// - a bare tag (`v2`): the plan's repository (`defaultRepository`) with that tag;
  /// - a bare digest (`sha256:…` or `@sha256:…`): the plan's repository at that digest;
  /// - `repo:tag`, `repo@sha256:…`, `repo:tag@sha256:…` (the digest decides, the tag is kept
  ///   for the record), with an optional `registry[:port]/` in front.
  /// A repository without tag or digest is refused rather than silently meaning `latest`.
  public static func parse(_ text: String, defaultRepository: String? = nil) throws(DockerError)
    -> ImageReference
  {
    guard !text.isEmpty else { throw .invalidReference(text, reason: "it is empty") }
    guard !text.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
      throw .invalidReference(text, reason: "it contains spaces or control characters")
    }
    func planRepository() throws(DockerError) -> String {
      guard let defaultRepository else {
        throw .invalidReference(text, reason: "a bare tag or digest needs the plan's image repository")
      }
      return defaultRepository
    }

    if text.hasPrefix("sha256:") || text.hasPrefix("@") {
      let digest = try ImageDigest(text.hasPrefix("@") ? String(text.dropFirst()) : text)
      return try ImageReference(repository: planRepository(), digest: digest)
    }

    var rest = Substring(text)
    var digest: ImageDigest?
    if let at = rest.firstIndex(of: "@") {
      digest = try ImageDigest(String(rest[rest.index(after: at)...]))
      rest = rest[..<at]
    }
    var tag: String?
    let lastSlash = rest.lastIndex(of: "/")
    if let colon = rest.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
      tag = String(rest[rest.index(after: colon)...])
      rest = rest[..<colon]
    }

    if lastSlash == nil && tag == nil && digest == nil {
      // One word without `:`, `/` or `@` is a tag of the plan's repository (docs/commands.md "deploy").
      try validateTag(String(rest), in: text)
      return try ImageReference(repository: planRepository(), tag: String(rest))
    }
    guard tag != nil || digest != nil else {
      throw .invalidReference(text, reason: "it names a repository but no tag or digest (write \(text):TAG)")
    }
    do {
      return try ImageReference(repository: String(rest), tag: tag, digest: digest)
    } catch {
      if case .invalidReference(_, let reason) = error { throw .invalidReference(text, reason: reason) }
      throw error
    }
  }

  /// Encoded as its text, `repository[:tag][@digest]`.
  public init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    let text = try container.decode(String.self)
    do {
      self = try ImageReference.parse(text)
    } catch {
      throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
    }
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode(description)
  }

  /// `repository[:tag][@digest]`.
  public var description: String {
    var text = repository
    if let tag { text += ":" + tag }
    if let digest { text += "@" + digest.value }
    return text
  }

  /// `repository@sha256:…` when the digest is known: what hosts pull and run, and what JSON
  /// output shows as `image`.
  public var pinned: String? {
    digest.map { repository + "@" + $0.value }
  }

  /// The same repository and tag at `digest`.
  public func resolved(to digest: ImageDigest) -> ImageReference {
    ImageReference(checked: repository, tag: tag, digest: digest)
  }

  /// The registry part, if the first path component is one (contains `.` or `:`, or is
  /// `localhost`), as Docker decides it.
  public var registry: String? {
    Self.splitRegistry(repository).registry
  }

  /// The repository as Docker prints it in `RepoDigests`: Docker Hub's `docker.io/` and
  /// `library/` prefixes dropped (`docker.io/library/nginx` → `nginx`).
  public var familiarRepository: String {
    Self.familiar(repository)
  }

  package static func familiar(_ repository: String) -> String {
    var name = Substring(repository)
    for hub in ["docker.io/", "index.docker.io/", "registry-1.docker.io/"] where name.hasPrefix(hub) {
      name = name.dropFirst(hub.count)
      if name.hasPrefix("library/") && !name.dropFirst("library/".count).contains("/") {
        name = name.dropFirst("library/".count)
      }
      break
    }
    return String(name)
  }

  // MARK: Validation, after github.com/distribution/reference's grammar.

  private static func splitRegistry(_ repository: String) -> (registry: String?, path: Substring) {
    guard let slash = repository.firstIndex(of: "/") else { return (nil, Substring(repository)) }
    let first = repository[..<slash]
    if first.contains(".") || first.contains(":") || first == "localhost"
      || first.contains(where: \.isUppercase)
    {
      return (String(first), repository[repository.index(after: slash)...])
    }
    return (nil, Substring(repository))
  }

  static func validateRepository(_ repository: String) throws(DockerError) {
    guard !repository.isEmpty else { throw .invalidReference(repository, reason: "the repository is empty") }
    guard repository.utf8.count <= 255 else {
      throw .invalidReference(repository, reason: "the repository is longer than 255 characters")
    }
    let (registry, path) = splitRegistry(repository)
    if let registry { try validateRegistry(registry, in: repository) }
    guard !path.isEmpty else { throw .invalidReference(repository, reason: "the repository path is empty") }
    for component in path.split(separator: "/", omittingEmptySubsequences: false) {
      try validatePathComponent(component, in: repository)
    }
  }

  private static func validateRegistry(_ registry: String, in text: String) throws(DockerError) {
    var host = Substring(registry)
    if let colon = host.lastIndex(of: ":") {
      let port = host[host.index(after: colon)...]
      guard !port.isEmpty, port.utf8.allSatisfy({ $0.isDigit }), let number = Int(port),
        (1...65535).contains(number)
      else {
        throw .invalidReference(text, reason: "registry port \"\(port)\" is not a number from 1 to 65535")
      }
      host = host[..<colon]
    }
    let labels = host.split(separator: ".", omittingEmptySubsequences: false)
    let valid =
      !host.isEmpty
      && labels.allSatisfy { label in
        guard let first = label.utf8.first, let last = label.utf8.last else { return false }
        return first.isAlnum && last.isAlnum
          && label.utf8.allSatisfy { $0.isAlnum || $0 == UInt8(ascii: "-") }
      }
    guard valid else {
      throw .invalidReference(
        text, reason: "registry host \"\(host)\" is not a valid host name or IPv4 address")
    }
  }

  /// `[a-z0-9]+` joined by `.`, `_`, `__` or one or more `-`.
  private static func validatePathComponent(_ component: Substring, in text: String) throws(DockerError) {
    let bytes = Array(component.utf8)
    guard !bytes.isEmpty else {
      throw .invalidReference(text, reason: "it has an empty path component (\"//\" or a trailing \"/\")")
    }
    if bytes.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) {
      throw .invalidReference(text, reason: "repository names must be lowercase (\"\(component)\")")
    }
    var index = 0
    var expectAlnum = true
    while index < bytes.count {
      let byte = bytes[index]
      if byte.isLowerAlnum {
        expectAlnum = false
        index += 1
        continue
      }
      guard !expectAlnum else {
        throw .invalidReference(text, reason: "\"\(component)\" must start and end with a-z or 0-9")
      }
      switch byte {
      case UInt8(ascii: "."):
        index += 1
      case UInt8(ascii: "_"):
        index += (index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "_")) ? 2 : 1
      case UInt8(ascii: "-"):
        while index < bytes.count && bytes[index] == UInt8(ascii: "-") { index += 1 }
      default:
        throw .invalidReference(
          text, reason: "\"\(component)\" may contain only a-z, 0-9 and the separators . _ __ -")
      }
      expectAlnum = true
    }
    guard !expectAlnum else {
      throw .invalidReference(text, reason: "\"\(component)\" must start and end with a-z or 0-9")
    }
  }

  /// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
  static func validateTag(_ tag: String, in text: String) throws(DockerError) {
    let bytes = Array(tag.utf8)
    guard let first = bytes.first else { throw .invalidReference(text, reason: "the tag is empty") }
    guard bytes.count <= 128 else {
      throw .invalidReference(text, reason: "the tag is longer than 128 characters")
    }
    guard first.isAlnum || first == UInt8(ascii: "_") else {
      throw .invalidReference(text, reason: "a tag must start with a letter, digit or _")
    }
    guard
      bytes.allSatisfy({
        $0.isAlnum || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
      })
    else {
      throw .invalidReference(text, reason: "a tag may contain only letters, digits, _ . and -")
    }
  }
}

extension UInt8 {
  fileprivate var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
  fileprivate var isLowerAlnum: Bool { isDigit || (self >= UInt8(ascii: "a") && self <= UInt8(ascii: "z")) }
  fileprivate var isAlnum: Bool { isLowerAlnum || (self >= UInt8(ascii: "A") && self <= UInt8(ascii: "Z")) }
  fileprivate var isLowerHex: Bool { isDigit || (self >= UInt8(ascii: "a") && self <= UInt8(ascii: "f")) }
}
