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
    RemoteCommand(
      script: "mkdir -p \(q(paths.releasesDirectory)) \(q(paths.locksDirectory))"
        + " && (umask 077 && mkdir -p \(q(paths.secretsDirectory)) && chmod 700 \(q(paths.secretsDirectory)))"
    )
  }

  /// Writes `text` (a secret: an env file) to `path` with mode 0600, in a 0700 folder. The text
  /// travels inside the script on the shell's stdin (a here-document), never on a command line.
  public static func writePrivate(_ text: String, to path: String, in directory: String) -> RemoteCommand {
    var delimiter = "DEPLOYCTL_END"
    while text.split(separator: "\n").contains(where: { $0 == delimiter }) { delimiter += "_" }
    return RemoteCommand(
      script: "umask 077 && mkdir -p \(q(directory)) && chmod 700 \(q(directory))"
        + " && tmp=$(mktemp \(q(directory + "/.env.XXXXXX"))) && cat > \"$tmp\" <<'\(delimiter)' && mv -f \"$tmp\" \(q(path))\n"
        + text + (text.hasSuffix("\n") || text.isEmpty ? "" : "\n") + delimiter)
  }

  /// Writes `releases/<env>/<id>.json` atomically.
  public static func writeRecord(_ record: ReleaseRecord, _ paths: HostPaths) throws(DockerError)
    -> RemoteCommand
  {
    let path = try paths.releaseRecord(record.id)
    return RemoteCommand(
      script: atomicWrite(HostStateJSON.line(record), to: path, in: paths.releasesDirectory))
  }

  /// Points `releases/<env>/current` at `release`.
  public static func setCurrent(_ release: String, _ paths: HostPaths) throws(DockerError) -> RemoteCommand {
    try NameRules.checkName(release, kind: "release id")
    return RemoteCommand(
      script: atomicWrite(release, to: paths.currentReleaseFile, in: paths.releasesDirectory))
  }

  /// Prints `current <id>` then every release record, one per line; read with `parseReleases`.
  public static func readReleases(_ paths: HostPaths) -> RemoteCommand {
    let dir = q(paths.releasesDirectory)
    return RemoteCommand(
      script: "printf 'current %s\\n' \"$(cat \(q(paths.currentReleaseFile)) 2>/dev/null)\"; "
        + "for f in \(dir)/*.json; do [ -f \"$f\" ] && { cat \"$f\"; echo; }; done; true")
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
    RemoteCommand(
      script:
        "mkdir -p \(q(paths.appDirectory)) && printf '%s\\n' \(q(HostStateJSON.line(entry))) >> \(q(paths.auditLog))"
    )
  }

  /// The last `lines` audit entries (none if there is no log yet); read with `AuditEntry.parseLines`.
  public static func readAudit(_ paths: HostPaths, lines: Int) -> RemoteCommand {
    let log = q(paths.auditLog)
    return RemoteCommand(script: "if [ -f \(log) ]; then tail -n \(max(1, lines)) \(log); fi")
  }

  static func atomicWrite(_ text: String, to path: String, in directory: String) -> String {
    let temp = directory + "/." + (path.split(separator: "/").last.map(String.init) ?? "file") + ".tmp"
    return "mkdir -p \(q(directory)) && printf '%s\\n' \(q(text)) > \(q(temp)) && mv -f \(q(temp)) \(q(path))"
  }
}

private func q(_ value: String) -> String { ShellQuote.quote(value) }
