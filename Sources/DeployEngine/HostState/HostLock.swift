import DeployConfig
import DeployTransport
import Foundation

/// Who holds an environment's lock, written into the lock folder when it is taken.
public struct LockHolder: Sendable, Equatable, Codable {
  public var user: String
  /// The machine deployctl runs on.
  public var host: String
  public var pid: Int32
  /// What it is doing, e.g. `deploy prod --image v2` (command lines never carry secrets).
  public var command: String
  public var startedAt: Date
  /// Random, so a run only ever releases a lock it took itself.
  public var token: String

  public init(
    user: String, host: String, pid: Int32, command: String, startedAt: Date = Date(),
    token: String = UUID().uuidString
  ) {
    self.user = user
    self.host = host
    self.pid = pid
    self.command = command
    self.startedAt = HostStateJSON.millisecondDate(startedAt)
    self.token = token
  }

  /// "alice@laptop (pid 4242) running `deploy prod --image v2` since 2026-11-21T17:15:30Z".
  public var summary: String {
    "\(user)@\(host) (pid \(pid)) running `\(command)` since \(startedAt.formatted(Date.ISO8601FormatStyle()))"
  }

  enum CodingKeys: String, CodingKey {
    case user, host, pid, command, token
    case startedAt = "started_at"
  }
}

/// The per-environment lock on a host: a folder, because `mkdir` is atomic on every POSIX
/// filesystem (of several concurrent `mkdir`s exactly one succeeds). The holder's JSON goes into
/// `holder.json` inside it, and the lease into `lease`: the expiry and the TTL in seconds, by the
/// host's own clock (`date +%s`), so the client's clock never matters. The holder renews the lease
/// while it runs; a lock whose lease has expired is taken over by the next run (renaming the
/// folder away is atomic too, so of two runs taking over one wins). A lock from before leases
/// (no `lease` file) expires one TTL after its holder file was written.
///
/// Every snippet prints one keyword line first (`acquired`, `taken-over`, `held`, `free`,
/// `released`, `broken`, `renewed`, `lost`), then a number where there is one (seconds until the
/// lease expires, or since the previous holder last renewed), then the holder JSON where there is
/// one; the `parse…` functions read that. A non-zero exit status means the snippet itself failed
/// (e.g. permission denied), with the reason on stderr.
public enum HostLock {
  public enum Attempt: Sendable, Equatable {
    case acquired
    /// The previous holder stopped renewing `renewedAgo` seconds ago and its lease had expired:
    /// the lock is ours now.
    case takenOver(previous: LockHolder?, renewedAgo: Int)
    /// Someone else holds it, for `expiresIn` more seconds unless renewed. The holder is nil if
    /// its file is missing or unreadable (taken this very instant, or left by a crash while being
    /// taken).
    case held(LockHolder?, expiresIn: Int?)
  }

  public enum Status: Sendable, Equatable {
    case free
    /// `expiresIn` < 0: the holder stopped renewing; the next run takes the lock over.
    case held(LockHolder?, expiresIn: Int?)
  }

  public enum Release: Sendable, Equatable {
    /// Ours, and now removed.
    case released
    /// There was no lock.
    case notLocked
    /// Someone else's (ours was broken and taken over): left alone.
    case heldByOther(LockHolder?)
    /// `forceRelease` removed this holder's lock.
    case broken(LockHolder?)
  }

  /// Takes the lock if it is free or its lease has expired; the lease runs `ttl` from now.
  public static func acquire(_ holder: LockHolder, _ paths: HostPaths, ttl: Duration) -> RemoteCommand {
    let lock = q(paths.lockDirectory)
    let file = q(paths.lockHolderFile)
    let lease = q(paths.lockLeaseFile)
    let json = q(HostStateJSON.line(holder))
    let seconds = ttlSeconds(ttl)
    let stale = q(paths.lockDirectory + ".stale")
    return .program(
      """
      mkdir -p \(q(paths.locksDirectory)) || exit 1
      now=$(date +%s)
      take() {
        mkdir \(lock) 2>/dev/null || return 1
        if printf '%s\\n' \(json) > \(file) && printf '%s %s\\n' "$((now + \(seconds)))" \(seconds) > \(lease); then
          return 0
        fi
        rm -f \(file) \(lease); rmdir \(lock); return 2
      }
      expiry() {
        set -- $(cat "$1/lease" 2>/dev/null)
        if [ -n "${1:-}" ]; then echo "$1 ${2:-\(seconds)}"; return; fi
        written=$(stat -c %Y "$1/holder.json" 2>/dev/null || echo "$now")
        echo "$((written + \(seconds))) \(seconds)"
      }
      take; taken=$?
      if [ $taken -eq 0 ]; then
        echo acquired
      elif [ $taken -eq 2 ]; then
        echo 'could not write the lock holder file' >&2; exit 1
      elif [ -d \(lock) ]; then
        set -- $(expiry \(lock))
        if [ "$now" -ge "$1" ] && mv \(lock) \(stale).$$ 2>/dev/null; then
          set -- $(expiry \(stale).$$)
          if [ "$now" -lt "$1" ]; then
            # Renewed or taken over meanwhile: not ours to take; put it back.
            mv \(stale).$$ \(lock) 2>/dev/null || rm -rf \(stale).$$
            echo held; echo "$(($1 - now))"; cat \(file) 2>/dev/null; exit 0
          fi
          old=$(cat \(stale).$$/holder.json 2>/dev/null)
          rm -rf \(stale).$$
          if take; then
            echo taken-over; echo "$((now - $1 + $2))"; printf '%s\\n' "$old"
          else
            echo held; echo; cat \(file) 2>/dev/null; true
          fi
        else
          echo held; echo "$(($1 - now))"; cat \(file) 2>/dev/null; true
        fi
      else
        echo 'could not create the lock folder' >&2; exit 1
      fi
      """)
  }

  /// Extends the lease by `ttl` from now, if `holder` still holds the lock.
  public static func renew(_ holder: LockHolder, _ paths: HostPaths, ttl: Duration) -> RemoteCommand {
    let seconds = ttlSeconds(ttl)
    let lease = q(paths.lockLeaseFile)
    return .program(
      """
      if [ "$(cat \(q(paths.lockHolderFile)) 2>/dev/null)" = \(q(HostStateJSON.line(holder))) ]; then
        printf '%s %s\\n' "$(($(date +%s) + \(seconds)))" \(seconds) > \(lease).tmp && mv -f \(lease).tmp \(lease) && echo renewed
      else
        echo lost
      fi
      """)
  }

  /// Reports whether the lock is held, by whom, and for how long yet.
  public static func status(_ paths: HostPaths) -> RemoteCommand {
    let lock = q(paths.lockDirectory)
    return .program(
      """
      if [ -d \(lock) ]; then
        now=$(date +%s); set -- $(cat \(q(paths.lockLeaseFile)) 2>/dev/null)
        echo held; if [ -n "${1:-}" ]; then echo "$(($1 - now))"; else echo; fi
        cat \(q(paths.lockHolderFile)) 2>/dev/null; true
      else
        echo free
      fi
      """)
  }

  /// Succeeds when `holder` holds the lock (its holder file is this holder's line).
  public static func isHeld(by holder: LockHolder, _ paths: HostPaths) -> RemoteCommand {
    RemoteCommand(["grep", "-qsxF", "-e", HostStateJSON.line(holder), paths.lockHolderFile])
  }

  /// Releases the lock only if `holder` (same token) holds it.
  public static func release(_ holder: LockHolder, _ paths: HostPaths) -> RemoteCommand {
    let lock = q(paths.lockDirectory)
    let file = q(paths.lockHolderFile)
    return .program(
      """
      if [ ! -d \(lock) ]; then
        echo free
      elif [ "$(cat \(file) 2>/dev/null)" = \(q(HostStateJSON.line(holder))) ]; then
        rm -f \(file) \(q(paths.lockLeaseFile)) && rmdir \(lock) && echo released
      else
        echo held; echo; cat \(file) 2>/dev/null; true
      fi
      """)
  }

  /// Removes the lock whoever holds it (`deployctl lock ENV release --force`), printing the
  /// holder it broke.
  public static func forceRelease(_ paths: HostPaths) -> RemoteCommand {
    let lock = q(paths.lockDirectory)
    let file = q(paths.lockHolderFile)
    return .program(
      """
      if [ -d \(lock) ]; then
        echo broken; echo; cat \(file) 2>/dev/null; echo
        rm -f \(file) \(q(paths.lockLeaseFile)) && rmdir \(lock)
      else
        echo free
      fi
      """)
  }

  static func ttlSeconds(_ ttl: Duration) -> Int { max(1, Int(ttl.components.seconds)) }

  public static func parseAttempt(_ output: String) throws(DockerError) -> Attempt {
    let (keyword, number, holder) = try splitNumbered(output, command: "lock acquire")
    switch keyword {
    case "acquired": return .acquired
    case "taken-over": return .takenOver(previous: holder, renewedAgo: number ?? 0)
    case "held": return .held(holder, expiresIn: number)
    default: throw .unexpectedOutput(command: "lock acquire", detail: "unknown answer \"\(keyword)\"")
    }
  }

  public static func parseStatus(_ output: String) throws(DockerError) -> Status {
    let (keyword, number, holder) = try splitNumbered(output, command: "lock status")
    switch keyword {
    case "free": return .free
    case "held": return .held(holder, expiresIn: number)
    default: throw .unexpectedOutput(command: "lock status", detail: "unknown answer \"\(keyword)\"")
    }
  }

  /// `renewed` or `lost`.
  public static func parseRenewal(_ output: String) -> Bool {
    output.split(separator: "\n").first?.trimmingCharacters(in: .whitespaces) == "renewed"
  }

  /// Keyword, the number line, then the holder JSON (the number line may be empty).
  private static func splitNumbered(_ output: String, command: String) throws(DockerError)
    -> (String, Int?, LockHolder?)
  {
    let lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard let first = lines.first(where: { !$0.isEmpty }) else {
      throw .unexpectedOutput(command: command, detail: "no output")
    }
    let keyword = first.trimmingCharacters(in: .whitespaces)
    guard keyword != "free", keyword != "acquired", let index = lines.firstIndex(of: first) else {
      return (keyword, nil, nil)
    }
    let rest = Array(lines[(index + 1)...])
    let number = rest.first.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    let json = rest.dropFirst().joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    // A holder file that does not read (hand-edited, cut short) is shown as an unknown holder.
    let holder =
      json.isEmpty ? nil : try? HostStateJSON.decoder().decode(LockHolder.self, from: Data(json.utf8))
    return (keyword, number, holder)
  }

  public static func parseRelease(_ output: String) throws(DockerError) -> Release {
    let (keyword, _, holder) = try splitNumbered(output, command: "lock release")
    switch keyword {
    case "released": return .released
    case "free": return .notLocked
    case "held": return .heldByOther(holder)
    case "broken": return .broken(holder)
    default: throw .unexpectedOutput(command: "lock release", detail: "unknown answer \"\(keyword)\"")
    }
  }

}

private func q(_ value: String) -> String { ShellQuote.quote(value) }
