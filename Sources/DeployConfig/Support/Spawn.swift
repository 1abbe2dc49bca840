import Foundation

/// Starts a program with posix_spawnp the way deployctl's children (hooks, and the tests'
/// programs) need it: no signal blocked and SIGTERM, SIGINT, SIGHUP, SIGPIPE and SIGCHLD at
/// their defaults (deployctl's threads block some; a child must not inherit that, or it would
/// never see the SIGTERM that stops it), optionally as the leader of a process group of its own.
public enum Spawn {
  /// The child's PID, or posix_spawnp's error number. A program file that is busy for an instant
  /// (ETXTBSY: it was just written, and a process another thread was starting at that moment
  /// still holds it open for writing until its own exec) is tried again, at most 10 times, 10 ms
  /// apart.
  public static func start(
    _ argv: [String], environment: [String], actions: inout posix_spawn_file_actions_t, ownProcessGroup: Bool
  ) -> Result<pid_t, SpawnFailure> {
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigmask(&attributes, &empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for signal in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
    if ownProcessGroup {
      posix_spawnattr_setpgroup(&attributes, 0)
      flags |= POSIX_SPAWN_SETPGROUP
    }
    posix_spawnattr_setflags(&attributes, Int16(flags))
    let argvC = argv.map { strdup($0) } + [nil]
    let envC = environment.map { strdup($0) } + [nil]
    defer {
      for pointer in argvC { free(pointer) }
      for pointer in envC { free(pointer) }
    }
    var pid: pid_t = 0
    var rc = posix_spawnp(&pid, argv[0], &actions, &attributes, argvC, envC)
    var retries = 0
    while rc == ETXTBSY, retries < 10 {
      retries += 1
      usleep(10_000)
      rc = posix_spawnp(&pid, argv[0], &actions, &attributes, argvC, envC)
    }
    return rc == 0 ? .success(pid) : .failure(SpawnFailure(code: rc))
  }
}

/// Why a program could not start: posix_spawnp's error number, said as strerror says it.
public struct SpawnFailure: Error, CustomStringConvertible {
  public var code: Int32
  public var description: String { String(cString: strerror(code)) }
}
