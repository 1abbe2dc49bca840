import CLibSSH2
import DeployConfig
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A host key algorithm libssh2 1.10 can verify, with its names in libssh2 and known_hosts.
struct HostKeyAlgorithm: Sendable {
  var name: String
  var hostkeyType: Int32
  var knownHostMask: Int32

  /// In the order we offer them: ed25519 first (as OpenSSH does), then ECDSA. `ssh-rsa` (SHA-1
  /// signatures, refused by OpenSSH since 8.8) and DSA are left out; libssh2 1.10 has no
  /// rsa-sha2-256/512.
  static let offered: [HostKeyAlgorithm] = [
    .init(
      name: "ssh-ed25519", hostkeyType: LIBSSH2_HOSTKEY_TYPE_ED25519,
      knownHostMask: LIBSSH2_KNOWNHOST_KEY_ED25519),
    .init(
      name: "ecdsa-sha2-nistp256", hostkeyType: LIBSSH2_HOSTKEY_TYPE_ECDSA_256,
      knownHostMask: LIBSSH2_KNOWNHOST_KEY_ECDSA_256),
    .init(
      name: "ecdsa-sha2-nistp384", hostkeyType: LIBSSH2_HOSTKEY_TYPE_ECDSA_384,
      knownHostMask: LIBSSH2_KNOWNHOST_KEY_ECDSA_384),
    .init(
      name: "ecdsa-sha2-nistp521", hostkeyType: LIBSSH2_HOSTKEY_TYPE_ECDSA_521,
      knownHostMask: LIBSSH2_KNOWNHOST_KEY_ECDSA_521),
  ]

  static let others: [HostKeyAlgorithm] = [
    .init(
      name: "ssh-rsa", hostkeyType: LIBSSH2_HOSTKEY_TYPE_RSA, knownHostMask: LIBSSH2_KNOWNHOST_KEY_SSHRSA),
    .init(
      name: "ssh-dss", hostkeyType: LIBSSH2_HOSTKEY_TYPE_DSS, knownHostMask: LIBSSH2_KNOWNHOST_KEY_SSHDSS),
  ]

  static func forHostkeyType(_ type: Int32) -> HostKeyAlgorithm? {
    (offered + others).first { $0.hostkeyType == type }
  }
}

/// Owns a `LIBSSH2_KNOWNHOSTS` collection read from an OpenSSH known_hosts file; keeps its
/// session alive. Plain, `[host]:port` and hashed (`|1|salt|hash`) entries are all understood.
final class KnownHosts {
  let raw: OpaquePointer
  let session: SessionHandle
  /// Base64 key blobs marked `@revoked`: refused for every host.
  private(set) var revoked: Set<String> = []

  enum Check {
    case match, mismatch, notFound
    case failure(String)
  }

  init?(session: SessionHandle) {
    guard let raw = libssh2_knownhost_init(session.raw) else { return nil }
    self.raw = raw
    self.session = session
  }

  deinit { libssh2_knownhost_free(raw) }

  /// Loads the entries of the known_hosts file at `path` that can match `name`: hashed ones and
  /// plain ones listing `name` (libssh2 compares names literally, as OpenSSH does without
  /// patterns). libssh2's own file reader stops at the first line it does not understand;
  /// OpenSSH skips such lines (certificate authorities, key types libssh2 lacks), so we do too.
  /// A missing file is an empty one.
  func load(_ path: String, for name: String) throws(SSHError) {
    let file = KnownHostsFile.read(path)
    revoked = file.revoked
    for line in file.hashed + (file.plain[name] ?? []) {
      _ = line.withCString {
        libssh2_knownhost_readline(raw, $0, strlen($0), LIBSSH2_KNOWNHOST_FILE_OPENSSH)
      }
    }
  }

  /// Looks `name` up exactly as given (`host` or `[host]:port`), as OpenSSH does.
  func check(name: String, key: [UInt8], algorithm: HostKeyAlgorithm) -> Check {
    let typemask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | algorithm.knownHostMask
    let rc = key.withUnsafeBufferPointer { buffer in
      buffer.withMemoryRebound(to: CChar.self) {
        libssh2_knownhost_checkp(raw, name, -1, $0.baseAddress, key.count, typemask, nil)
      }
    }
    switch rc {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH: return .match
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH: return .mismatch
    case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND: return .notFound
    default: return .failure(session.lastError)
    }
  }

  /// The algorithms `name` has keys for. They are offered first in the handshake, so a host
  /// recorded with an ECDSA key is not asked for its ed25519 key (which would look unknown).
  func knownAlgorithms(for name: String) -> [HostKeyAlgorithm] {
    // A key that cannot match: a host with a key of this type answers "mismatch".
    let probe: [UInt8] = [0]
    return HostKeyAlgorithm.offered.filter {
      if case .mismatch = check(name: name, key: probe, algorithm: $0) { return true }
      return false
    }
  }

  /// The known_hosts line for a new key: plain host name (not hashed), as OpenSSH writes with
  /// its default `HashKnownHosts no`, so people can read and `ssh-keygen -R` it.
  func line(for name: String, key: [UInt8], algorithm: HostKeyAlgorithm) throws(SSHError) -> String {
    let typemask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | algorithm.knownHostMask
    var entry: UnsafeMutablePointer<libssh2_knownhost>?
    let added = key.withUnsafeBufferPointer { buffer in
      buffer.withMemoryRebound(to: CChar.self) {
        libssh2_knownhost_addc(raw, name, nil, $0.baseAddress, key.count, nil, 0, typemask, &entry)
      }
    }
    guard added == 0, let entry else {
      throw .library(
        host: name, operation: "formatting a known_hosts line", code: added, message: session.lastError)
    }
    var buffer = [CChar](repeating: 0, count: 8192)
    var length = 0
    let rc = libssh2_knownhost_writeline(
      raw, entry, &buffer, buffer.count, &length, LIBSSH2_KNOWNHOST_FILE_OPENSSH)
    guard rc == 0 else {
      throw .library(
        host: name, operation: "formatting a known_hosts line", code: rc, message: session.lastError)
    }
    return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  private static let appendLock = NSLock()

  /// Appends one line to the file (created 0600, its folder 0700, if missing). Returns why it
  /// could not, or nil.
  static func append(_ line: String, to path: String) -> String? {
    var failure: String?
    appendLock.withLock {
      let folder = (path as NSString).deletingLastPathComponent
      if !folder.isEmpty && !FileManager.default.fileExists(atPath: folder) {
        do {
          try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
          failure = "cannot create \(folder): \(error.localizedDescription)"
          return
        }
      }
      let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
      guard fd >= 0 else {
        failure = String(cString: strerror(errno))
        return
      }
      defer { close(fd) }
      var text = line.hasSuffix("\n") ? line : line + "\n"
      // Start on a line of our own if the file does not end with a newline.
      var status = stat()
      if fstat(fd, &status) == 0 && status.st_size > 0 {
        var last: UInt8 = 0
        if pread(fd, &last, 1, status.st_size - 1) == 1 && last != UInt8(ascii: "\n") { text = "\n" + text }
      }
      let bytes = Array(text.utf8)
      var written = 0
      while written < bytes.count {
        let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0 {
          if errno == EINTR { continue }
          failure = String(cString: strerror(errno))
          return
        }
        written += n
      }
    }
    return failure
  }
}

/// A known_hosts file split up for lookups by host name, read once per process while the file
/// is unchanged: a fan-out to N hosts sharing one file of N entries would otherwise parse N × N
/// lines (1,000 hosts: a million lines through libssh2, seconds of CPU).
struct KnownHostsFile: Sendable {
  /// Base64 key blobs marked `@revoked`.
  var revoked: Set<String> = []
  /// `|1|salt|hash` entries: which host they name is known only by hashing it.
  var hashed: [String] = []
  /// Plain entries by each name they list (`host`, `[host]:port`).
  var plain: [String: [String]] = [:]

  /// What tells one version of the file from another.
  struct Stamp: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64
    var modifiedNanoseconds: Int64

    init?(_ path: String) {
      var info = stat()
      guard stat(path, &info) == 0 else { return nil }
      device = UInt64(info.st_dev)
      inode = UInt64(info.st_ino)
      size = Int64(info.st_size)
      modified = Int64(info.st_mtim.tv_sec)
      modifiedNanoseconds = Int64(info.st_mtim.tv_nsec)
    }
  }

  private static let cache = Locked<[String: (stamp: Stamp?, file: KnownHostsFile)]>([:])

  static func read(_ path: String) -> KnownHostsFile {
    let stamp = Stamp(path)
    if let cached = cache.withLock({ $0[path] }), cached.stamp == stamp {
      return cached.file
    }
    var file = KnownHostsFile()
    if let data = FileManager.default.contents(atPath: path) {
      file.add(String(decoding: data, as: UTF8.self))
    }
    cache.withLock { $0[path] = (stamp, file) }
    return file
  }

  mutating func add(_ text: String) {
    for line in text.split(whereSeparator: \.isNewline) {
      let trimmed = line.trimmingCharacters(in: .whitespaces)
      if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
      let fields = trimmed.split(whereSeparator: \.isWhitespace)
      if trimmed.hasPrefix("@") {
        if fields.first == "@revoked", fields.count >= 4 { revoked.insert(String(fields[3])) }
        continue
      }
      guard let names = fields.first else { continue }
      if names.hasPrefix("|") {
        hashed.append(trimmed)
      } else {
        for name in names.split(separator: ",") { plain[String(name), default: []].append(trimmed) }
      }
    }
  }
}
