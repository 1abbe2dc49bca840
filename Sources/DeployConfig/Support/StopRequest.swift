import Foundation

/// A request to stop, raised by SIGINT or SIGTERM. A rollout does not cancel its host tasks
/// when this is raised (a half-run `docker run` is exactly the half state we must avoid): it
/// hears the request between steps, finishes or rolls back the host in flight, restores the
/// hosts it moved, releases its lock, and only then exits.
public final class StopRequest: Sendable {
  private struct State {
    var reason: String?
    /// Streams handed out by `requests()` that have not heard the request yet.
    var listeners: [UUID: AsyncStream<String>.Continuation] = [:]
    var signals: Signals?
  }

  private let state = Locked(State())

  public init() {}

  /// The signal's name once one arrived; nil while the run may go on.
  public var requested: String? { state.withLock { $0.reason } }

  /// Raises the request; only the first reason counts.
  public func request(_ why: String) {
    let listeners = state.withLock { state -> [AsyncStream<String>.Continuation] in
      guard state.reason == nil else { return [] }
      state.reason = why
      defer { state.listeners = [:] }
      return Array(state.listeners.values)
    }
    for listener in listeners {
      listener.yield(why)
      listener.finish()
    }
  }

  /// The request as it arrives: one element (at once if it came already), then the end. Ends
  /// without one when the task iterating it is cancelled.
  public func requests() -> AsyncStream<String> {
    let (stream, continuation) = AsyncStream.makeStream(of: String.self)
    let id = UUID()
    continuation.onTermination = { [weak self] _ in
      self?.state.withLock { _ = $0.listeners.removeValue(forKey: id) }
    }
    let already = state.withLock { state -> String? in
      if state.reason == nil { state.listeners[id] = continuation }
      return state.reason
    }
    if let already {
      continuation.yield(already)
      continuation.finish()
    }
    return stream
  }

  /// Waits until `deadline`, or less when a stop is requested first; returns the request's
  /// reason if there is one.
  public func wait(until deadline: ContinuousClock.Instant) async -> String? {
    await withTaskGroup(of: String?.self) { group in
      group.addTask {
        // Cancelled only when the request came first: the sleep has nothing to report.
        try? await Task.sleep(until: deadline, clock: .continuous)
        return nil
      }
      group.addTask {
        for await reason in self.requests() { return reason }
        return nil
      }
      _ = await group.next()
      group.cancelAll()
      return requested
    }
  }

  /// Routes SIGINT and SIGTERM to this request. A second signal ends the process at once, for
  /// the person who really means it.
  public func installSignalHandlers() {
    let signals = Signals { [weak self] name in
      guard let self else { return }
      if self.requested != nil {
        FileHandle.standardError.write(Data("\(name) again: exiting without cleaning up\n".utf8))
        exit(130)
      }
      self.request(name)
      FileHandle.standardError.write(
        Data("\(name): finishing the host step in flight, restoring, releasing the lock…\n".utf8))
    }
    let previous = state.withLock { state in
      defer { state.signals = signals }
      return state.signals
    }
    previous?.cancel()
  }
}
