import DeployConfig
import DeployTransport
import Foundation

/// Shell snippets for the state deployctl keeps on a host (`HostPaths`), run over SSH by the
/// engine. POSIX sh; every value single-quoted; files replaced atomically (write a temp file in
/// the same folder, then `mv`). Only `writePrivate` carries a secret (an env file), inside the
/// script on the SSH channel's stdin as a here-document, never on a command line.
public enum HostState {
  /// Creates the app's folders; the secrets folder is private to the SSH user (0700).
  public static func prepare(_ paths: HostPaths) -> RemoteCommand {
    RemoteCommand(["mkdir", "-p", paths.releasesDirectory, paths.locksDirectory])
      .and(privateDirectory(paths.secretsDirectory).subshell)
  }

  /// `umask 077 && mkdir -p DIR && chmod 700 DIR` (the umask stays in force for what follows).
  static func privateDirectory(_ directory: String) -> RemoteCommand {
    .all([
      RemoteCommand(["umask", "077"]), RemoteCommand(["mkdir", "-p", directory]),
      RemoteCommand(["chmod", "700", directory]),
    ])
  }

  /// Writes `text` (a secret: an env file) to `path` with mode 0600, in a 0700 folder. The text
  /// travels inside the script on the shell's stdin (a here-document), never on a command line.
  public static func writePrivate(_ text: String, to path: String, in directory: String) -> RemoteCommand {
    // The temp file's name only `mktemp` knows: it goes from one command to the next in `$tmp`.
    let write = RemoteCommand.assign("tmp", outputOf: RemoteCommand(["mktemp", directory + "/.env.XXXXXX"]))
    let fill = RemoteCommand(["cat"]).writing(to: .variable("tmp")).input(text)
    let move = RemoteCommand(words: ["mv", "-f", .variable("tmp"), ShellWord(path)])
    return .all([privateDirectory(directory), write, fill, move])
  }

  /// Writes `releases/<env>/<id>.json` atomically.
  public static func writeRecord(_ record: ReleaseRecord, _ paths: HostPaths) throws(DockerError)
    -> RemoteCommand
  {
    let path = try paths.releaseRecord(record.id)
    return atomicWrite(HostStateJSON.line(record), to: path, in: paths.releasesDirectory)
  }

  /// Points `releases/<env>/current` at `release`.
  public static func setCurrent(_ release: String, _ paths: HostPaths) throws(DockerError) -> RemoteCommand {
    try NameRules.checkName(release, kind: "release id")
    return atomicWrite(release, to: paths.currentReleaseFile, in: paths.releasesDirectory)
  }

  /// Prints `current <id>` then every release record, one per line (`awk 1` ends a file that
  /// lacks its last newline); read with `parseReleases`. A host with no records yet prints only
  /// `current `.
  public static func readReleases(_ paths: HostPaths) -> RemoteCommand {
    let current = RemoteCommand(["cat", paths.currentReleaseFile]).withoutErrors
    // `DIR/. ! -name . -prune`: the folder's own files only, as POSIX `find` says it.
    let records = RemoteCommand([
      "find", paths.releasesDirectory + "/.", "!", "-name", ".", "-prune", "-name", "*.json", "-type", "f",
      "-exec", "awk", "1", "{}", "+",
    ]).withoutErrors
    return RemoteCommand(words: ["printf", "current %s\\n", .output(of: current)]).then(records).then(
      .success)
  }

  public static func parseReleases(_ output: String) throws(DockerError) -> HostReleases {
    var lines = output.split(separator: "\n", omittingEmptySubsequences: true)
    guard let first = lines.first, first.hasPrefix("current") else {
      throw .unexpectedOutput(command: "read releases", detail: "missing the current release line")
    }
    lines.removeFirst()
    let current = first.dropFirst("current".count).trimmingCharacters(in: .whitespaces)
    let decoder = HostStateJSON.decoder()
    var records: [ReleaseRecord] = []
    var unreadable: [String] = []
    for line in lines {
      do {
        records.append(try decoder.decode(ReleaseRecord.self, from: Data(line.utf8)))
      } catch {
        unreadable.append("\(line.prefix(80)): \(error)")
      }
    }
    records.sort { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
    return HostReleases(current: current.isEmpty ? nil : current, records: records, unreadable: unreadable)
  }

  /// Deletes the records and env files of releases no longer kept (`rollback.keep`).
  public static func removeReleases(_ releases: [String], _ paths: HostPaths) throws(DockerError)
    -> RemoteCommand
  {
    var files: [String] = []
    for release in releases {
      files.append(try paths.releaseRecord(release))
      files.append(try paths.envFile(release))
    }
    return RemoteCommand(["rm", "-f", "--"] + files)
  }

  /// Appends one line to `audit.log`.
  public static func appendAudit(_ entry: AuditEntry, _ paths: HostPaths) -> RemoteCommand {
    RemoteCommand(["mkdir", "-p", paths.appDirectory])
      .and(RemoteCommand(["printf", "%s\\n", HostStateJSON.line(entry)]).appending(to: paths.auditLog))
  }

  /// The last `lines` audit entries (none if there is no log yet); read with `AuditEntry.parseLines`.
  public static func readAudit(_ paths: HostPaths, lines: Int) -> RemoteCommand {
    .if(
      RemoteCommand(["test", "-f", paths.auditLog]),
      then: RemoteCommand(["tail", "-n", String(max(1, lines)), paths.auditLog]))
  }

  static func atomicWrite(_ text: String, to path: String, in directory: String) -> RemoteCommand {
    let temp = directory + "/." + (path.split(separator: "/").last.map(String.init) ?? "file") + ".tmp"
    return .all([
      RemoteCommand(["mkdir", "-p", directory]), RemoteCommand(["printf", "%s\\n", text]).writing(to: temp),
      RemoteCommand(["mv", "-f", temp, path]),
    ])
  }
}

private func q(_ value: String) -> String { ShellQuote.quote(value) }
