import Dispatch
import Foundation

/// SIGINT and SIGTERM, the one way deployctl hears them (rollouts, `--lock-wait`, exec, logs).
/// While a `Signals` lives, the signals do not end the process: each one that arrives calls
/// `onSignal` with its name, on a Dispatch queue, never inside a C signal handler.
///
/// Dispatch on Linux reads signals from a `signalfd`, which sees a signal only while it is
/// pending; so the default action (terminate) is switched off first, and a mask inherited from
/// the parent (test runners and some CI agents start us with these signals blocked) is lifted.
///
/// `@unchecked Sendable`: its one stored property is set once, and Dispatch sources are safe to
/// cancel from any thread (Dispatch does not mark them `Sendable`).
public final class Signals: @unchecked Sendable {
  /// The signals a run stops on, with the names its messages use.
  public static let stopping: [(number: Int32, name: String)] = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")]

  private let sources: [any DispatchSourceSignal]
  /// Left once per source when Dispatch has registered it (from then on no signal is lost).
  private let registered = DispatchGroup()

  /// Starts watching `signals` (SIGINT and SIGTERM unless a test asks for others); `onSignal`
  /// runs for every one that arrives until `cancel()`.
  public init(
    _ signals: [(number: Int32, name: String)] = stopping, _ onSignal: @escaping @Sendable (String) -> Void
  ) {
    var set = sigset_t()
    sigemptyset(&set)
    for (number, _) in signals { sigaddset(&set, number) }
    pthread_sigmask(SIG_UNBLOCK, &set, nil)
    var watching: [any DispatchSourceSignal] = []
    for (number, name) in signals {
      // Until Dispatch installs its own handler (when the source resumes), a signal is dropped
      // rather than ending the process half-way.
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
      source.setEventHandler { onSignal(name) }
      registered.enter()
      source.setRegistrationHandler { [registered] in registered.leave() }
      source.resume()
      watching.append(source)
    }
    sources = watching
  }

  /// Returns once every signal is watched: Dispatch registers its sources a moment after they
  /// start, and until then a signal is dropped.
  public func ready() async {
    await withCheckedContinuation { continuation in
      registered.notify(queue: .global()) { continuation.resume() }
    }
  }

  /// Stops watching (the signals stay ignored: the process is about to report and exit).
  public func cancel() {
    for source in sources where !source.isCancelled { source.cancel() }
  }

  deinit { cancel() }
}
