import Dispatch
import Foundation

/// A request to stop, raised by SIGINT or SIGTERM. A rollout does not cancel its host tasks
/// when this is raised (a half-run `docker run` is exactly the half state we must avoid): it
/// checks the request between steps, finishes or rolls back the host in flight, restores the
/// hosts it moved, releases its lock, and only then exits.
public final class StopRequest: @unchecked Sendable {
  private let lock = NSLock()
  private var reason: String?
  private var sources: [DispatchSourceSignal] = []

  public init() {}

  /// The signal's name once one arrived; nil while the run may go on.
  public var requested: String? { lock.withLock { reason } }

  public func request(_ why: String) {
    lock.withLock { if reason == nil { reason = why } }
  }

  /// Routes SIGINT and SIGTERM to this request. A second signal ends the process at once, for
  /// the person who really means it.
  public func installSignalHandlers() {
    // A parent may have started us with these signals blocked (test runners, some CI agents).
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { [weak self] in
        guard let self else { return }
        if self.requested != nil {
          FileHandle.standardError.write(Data("\(name) again: exiting without cleaning up\n".utf8))
          exit(130)
        }
        self.request(name)
        FileHandle.standardError.write(
          Data("\(name): finishing the host step in flight, restoring, releasing the lock…\n".utf8))
      }
      source.resume()
      lock.withLock { sources.append(source) }
    }
  }
}
