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
/// filesystem (of several concurrent `mkdir`s exactly one succeeds). The holder's JSON goes
/// into `holder.json` inside it. A lock left by a crash stays until `forceRelease`.
///
/// Every snippet prints one keyword line first (`acquired`, `held`, `free`, `released`,
/// `broken`), then the holder JSON where there is one; the `parse…` functions read that. A
/// non-zero exit status means the snippet itself failed (e.g. permission denied), with the
/// reason on stderr.
public enum HostLock {
  public enum Attempt: Sendable, Equatable {
    case acquired
    /// Someone else holds it. The holder is nil if its file is missing or unreadable (taken
    /// this very instant, or left by a crash while being taken).
    case held(LockHolder?)
  }

  public enum Status: Sendable, Equatable {
    case free
    case held(LockHolder?)
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

  /// Takes the lock if it is free.
  public static func acquire(_ holder: LockHolder, _ paths: HostPaths) -> RemoteCommand {
    let lock = q(paths.lockDirectory)
    let file = q(paths.lockHolderFile)
    let json = q(HostStateJSON.line(holder))
    return RemoteCommand(
      script: """
        mkdir -p \(q(paths.locksDirectory)) || exit 1
        if err=$(mkdir \(lock) 2>&1); then
          if printf '%s\\n' \(json) > \(file); then echo acquired; else rm -f \(file); rmdir \(lock); exit 1; fi
        elif [ -d \(lock) ]; then
          echo held; cat \(file) 2>/dev/null; true
        else
          printf '%s\\n' "$err" >&2; exit 1
        fi
        """)
  }

  /// Reports whether the lock is held, and by whom.
  public static func status(_ paths: HostPaths) -> RemoteCommand {
    RemoteCommand(
      script:
        "if [ -d \(q(paths.lockDirectory)) ]; then echo held; cat \(q(paths.lockHolderFile)) 2>/dev/null; true;"
        + " else echo free; fi")
  }

  /// Releases the lock only if `holder` (same token) holds it.
  public static func release(_ holder: LockHolder, _ paths: HostPaths) -> RemoteCommand {
    let lock = q(paths.lockDirectory)
    let file = q(paths.lockHolderFile)
    return RemoteCommand(
      script: """
        if [ ! -d \(lock) ]; then
          echo free
        elif [ "$(cat \(file) 2>/dev/null)" = \(q(HostStateJSON.line(holder))) ]; then
          rm -f \(file) && rmdir \(lock) && echo released
        else
          echo held; cat \(file) 2>/dev/null; true
        fi
        """)
  }

  /// Removes the lock whoever holds it (`deployctl lock ENV release --force`), printing the
  /// holder it broke.
  public static func forceRelease(_ paths: HostPaths) -> RemoteCommand {
    let lock = q(paths.lockDirectory)
    let file = q(paths.lockHolderFile)
    return RemoteCommand(
      script: """
        if [ -d \(lock) ]; then
          echo broken; cat \(file) 2>/dev/null; echo
          rm -f \(file) && rmdir \(lock)
        else
          echo free
        fi
        """)
  }

  public static func parseAttempt(_ output: String) throws(DockerError) -> Attempt {
    let (keyword, holder) = try split(output, command: "lock acquire")
    switch keyword {
    case "acquired": return .acquired
    case "held": return .held(holder)
    default: throw .unexpectedOutput(command: "lock acquire", detail: "unknown answer \"\(keyword)\"")
    }
  }

  public static func parseStatus(_ output: String) throws(DockerError) -> Status {
    let (keyword, holder) = try split(output, command: "lock status")
    switch keyword {
    case "free": return .free
    case "held": return .held(holder)
    default: throw .unexpectedOutput(command: "lock status", detail: "unknown answer \"\(keyword)\"")
    }
  }

  public static func parseRelease(_ output: String) throws(DockerError) -> Release {
    let (keyword, holder) = try split(output, command: "lock release")
    switch keyword {
    case "released": return .released
    case "free": return .notLocked
    case "held": return .heldByOther(holder)
    case "broken": return .broken(holder)
    default: throw .unexpectedOutput(command: "lock release", detail: "unknown answer \"\(keyword)\"")
    }
  }

  private static func split(_ output: String, command: String) throws(DockerError) -> (String, LockHolder?) {
    let lines = output.split(separator: "\n", omittingEmptySubsequences: true)
    guard let first = lines.first else { throw .unexpectedOutput(command: command, detail: "no output") }
    let json = lines.dropFirst().joined(separator: "\n")
    let holder =
      json.isEmpty ? nil : try? HostStateJSON.decoder().decode(LockHolder.self, from: Data(json.utf8))
    return (first.trimmingCharacters(in: .whitespaces), holder)
  }
}

private func q(_ value: String) -> String { ShellQuote.quote(value) }
