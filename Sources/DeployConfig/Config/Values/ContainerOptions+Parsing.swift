import Foundation

/// The values of `container:`'s Docker options as users write them, each checked the way the
/// Docker engine would refuse it, but at `validate`, with the place in the file.
enum ContainerOptionValue {
  /// Linux capabilities (capabilities(7)), as `docker run --cap-add` takes them without `CAP_`.
  static let capabilities: Set<String> = [
    "AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE", "CHOWN",
    "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE",
    "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE",
    "NET_BROADCAST", "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_ADMIN",
    "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "SYSLOG", "WAKE_ALARM",
  ]

  /// Docker's `--ulimit` names.
  static let ulimitNames = [
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
    "rtprio", "rttime", "sigpending", "stack",
  ]

  /// `NET_BIND_SERVICE`, `cap_net_bind_service`, `ALL` → the upper-case name without `CAP_`.
  static func capability(_ text: String) throws(ValueError) -> String {
    var name = text.uppercased()
    if name.hasPrefix("CAP_") { name.removeFirst(4) }
    guard name == "ALL" || capabilities.contains(name) else {
      let hint = Suggestion.closest(to: name, in: Array(capabilities) + ["ALL"]).map {
        "; did you mean `\($0)`?"
      }
      throw ValueError(
        "`\(text)` is not a Linux capability\(hint ?? "") (names as in capabilities(7), with or without CAP_, or ALL)"
      )
    }
    return name
  }

  /// `name`, `uid`, `name:group`, `uid:gid`.
  static func user(_ text: String) throws(ValueError) -> String {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard (1...2).contains(parts.count),
      parts.allSatisfy({ !$0.isEmpty && Names.isUserName(String($0)) && !$0.hasPrefix("-") })
    else {
      throw ValueError(
        "`\(text)` is not a user: write a name or uid, optionally with a group or gid (`1000:1000`, `app`)")
    }
    return text
  }

  /// `all`, a count (`2`), or `device=0,1` → Docker's `--gpus` value (a device list in quotes,
  /// since Docker reads the value as CSV and the list has commas).
  static func gpus(_ text: String, plain: Bool) throws(ValueError) -> String {
    if text == "all" { return text }
    if plain, let count = Names.integer(Substring(text)) {
      guard count >= 1 else { throw ValueError("a GPU count must be at least 1") }
      return String(count)
    }
    let example = "write `all`, a count like `2`, or `\"device=0,1\"`"
    guard text.hasPrefix("device=") else { throw ValueError("`\(text)` is not a GPU request; \(example)") }
    let devices = text.dropFirst("device=".count).split(separator: ",", omittingEmptySubsequences: false)
    guard !devices.isEmpty,
      devices.allSatisfy({ d in
        !d.isEmpty && d.utf8.allSatisfy { Names.isLetter($0) || Names.isDigit($0) || "-_:".utf8.contains($0) }
      })
    else {
      throw ValueError("`\(text)`: devices are indexes or UUIDs separated by commas; \(example)")
    }
    return "\"\(text)\""
  }

  /// A container host name: letters, digits and `-` in dot-separated labels, at most 63 long
  /// (the kernel's limit).
  static func hostname(_ text: String) throws(ValueError) -> String {
    let labels = text.split(separator: ".", omittingEmptySubsequences: false)
    guard text.utf8.count <= 63,
      labels.allSatisfy({ label in
        !label.isEmpty && !label.hasPrefix("-") && !label.hasSuffix("-")
          && label.utf8.allSatisfy { Names.isLetter($0) || Names.isDigit($0) || $0 == UInt8(ascii: "-") }
      })
    else {
      throw ValueError(
        "`\(text)` is not a host name: at most 63 letters, digits, `-` and `.`, no label starting or ending with `-`"
      )
    }
    return text
  }

  /// A Docker network name or a network alias.
  static func networkName(_ text: String, what: String) throws(ValueError) -> String {
    guard Names.isContainerName(text) else {
      throw ValueError(
        "`\(text)` is not a \(what): letters, digits and `_.-`, starting with a letter or digit")
    }
    return text
  }

  /// `NAME:IP` (`db.internal:10.0.0.5`, `db:::1`, `gw:host-gateway`).
  static func addHost(_ text: String) throws(ValueError) -> String {
    let example = "write `name:address`, e.g. `\"db.internal:10.0.0.5\"`"
    guard let colon = text.firstIndex(of: ":") else { throw ValueError("`\(text)` has no `:`; \(example)") }
    let name = String(text[..<colon])
    let address = String(text[text.index(after: colon)...])
    do {
      _ = try hostname(name)
    } catch {
      throw ValueError("`\(name)` is not a host name; \(example)")
    }
    guard address == "host-gateway" || isIPAddress(address) else {
      throw ValueError("`\(address)` is not an IPv4 or IPv6 address (or `host-gateway`); \(example)")
    }
    return text
  }

  /// An absolute path inside the container, without whitespace or control characters.
  static func containerPath(_ text: String) throws(ValueError) -> String {
    guard text.hasPrefix("/") else {
      throw ValueError("`\(text)` must be an absolute path, starting with `/`")
    }
    if let bad = Names.firstOffending(text, allowed: { $0 > 0x20 && $0 < 0x7F }) {
      throw ValueError("`\(text)` contains \(bad)")
    }
    return text
  }

  /// `/tmp` or `/tmp:size=64m,mode=1777`.
  static func tmpfs(_ text: String) throws(ValueError) -> String {
    let path = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
    _ = try containerPath(String(path[0]))
    if path.count == 2, path[1].isEmpty || path[1].contains(":") {
      throw ValueError("`\(text)`: write `/path` or `/path:options`, e.g. `/tmp:size=64m`")
    }
    return text
  }

  /// One word of `docker_args`: a flag, with its value after `=`.
  static func dockerArgument(_ text: String) throws(ValueError) -> String {
    guard text.hasPrefix("-"), text.count > 1 else {
      throw ValueError(
        "`\(text)` does not start with `-`; each word is one flag, with its value after `=` (`--pids-limit=200`)"
      )
    }
    if text.contains("\n") || text.contains("\0") {
      throw ValueError("`\(text)` contains a line break or NUL")
    }
    return text
  }

  /// A label key: not empty, no `=`, whitespace or control characters, not under `deployctl.`.
  static func labelKey(_ text: String) throws(ValueError) -> String {
    if text.hasPrefix("deployctl.") {
      throw ValueError("`\(text)`: labels under `deployctl.` are deployctl's own; choose another key")
    }
    guard !text.isEmpty, !text.contains("="), !text.unicodeScalars.contains(where: { $0.value <= 0x20 })
    else {
      throw ValueError("`\(text)` is not a label key: no `=`, spaces or control characters")
    }
    return text
  }

  /// `512m`: Docker's memory units are binary (m = MiB), and it refuses less than 6 MiB.
  static func memory(_ text: String) throws(ValueError) -> String {
    let size = try ByteSize(parsing: text)
    let value = size.dockerValue
    let number = Int64(value.prefix { $0.isNumber }) ?? 0
    let shift: Int64 =
      switch value.last {
      case "k": 10
      case "m": 20
      case "g": 30
      default: 0
      }
    let (bytes, overflow) = number.multipliedReportingOverflow(by: Int64(1) << shift)
    guard overflow || bytes >= 6 << 20 else {
      throw ValueError("`\(text)` is below Docker's minimum memory limit of 6m")
    }
    return value
  }
}

private func isIPAddress(_ text: String) -> Bool {
  var v4 = in_addr()
  var v6 = in6_addr()
  return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
}
