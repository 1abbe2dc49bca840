import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The one thread that waits for sockets on behalf of every SSH session.
///
/// libssh2 runs in non-blocking mode: a call that would block returns `EAGAIN`, and the task that
/// made it suspends here until the socket is ready, the session is poked (another task read data
/// that may be for it), or its deadline passes. The cooperative thread pool never blocks, so 200
/// hosts have 200 handshakes in flight on two cores.
final class EventLoop: @unchecked Sendable {
  static let shared = EventLoop()

  struct Interest: Sendable {
    var fd: Int32
    var events: Int16

    static func readable(_ fd: Int32) -> Interest { Interest(fd: fd, events: Int16(POLLIN)) }
    static func writable(_ fd: Int32) -> Interest { Interest(fd: fd, events: Int16(POLLOUT)) }
  }

  enum Wake: Sendable {
    /// One of the descriptors is ready (or failed: the next call will say how).
    case ready
    /// The session's generation moved: retry the call.
    case poked
    case timedOut
  }

  private enum Entry {
    case reserved
    case cancelled
    case waiting(Waiter)
  }

  private struct Waiter {
    var interests: [Interest]
    var token: UInt64
    var deadline: ContinuousClock.Instant?
    var continuation: CheckedContinuation<Wake, any Error>
  }

  // All mutable state is guarded by `lock`; the poll thread and every caller touch it briefly.
  private let lock = NSLock()
  private var entries: [UInt64: Entry] = [:]
  private var generations: [UInt64: UInt64] = [:]
  private var nextID: UInt64 = 1
  private var wakePending = false
  private let wakeRead: Int32
  private let wakeWrite: Int32

  private init() {
    var fds: [Int32] = [-1, -1]
    guard pipe(&fds) == 0 else {
      fatalError(
        "deployctl: cannot create the SSH event loop's wake-up pipe: \(String(cString: strerror(errno)))")
    }
    for fd in fds {
      _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
      _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }
    wakeRead = fds[0]
    wakeWrite = fds[1]
    let thread = Thread { [unowned self] in self.run() }
    thread.name = "deployctl-ssh-events"
    thread.start()
  }

  /// A number that identifies one session's waiters, for `poke`.
  func makeToken() -> UInt64 {
    lock.withLock {
      defer { nextID += 1 }
      generations[nextID] = 0
      return nextID
    }
  }

  func forget(token: UInt64) {
    lock.withLock { _ = generations.removeValue(forKey: token) }
  }

  /// Read before a libssh2 call; pass to `wait` so a poke that happens in between is not lost.
  func generation(_ token: UInt64) -> UInt64 {
    lock.withLock { generations[token] ?? 0 }
  }

  /// Wakes every task waiting with `token`; also makes later waits that saw an older
  /// generation return at once.
  func poke(_ token: UInt64) {
    var woken: [CheckedContinuation<Wake, any Error>] = []
    lock.withLock {
      generations[token, default: 0] &+= 1
      for (id, entry) in entries {
        if case .waiting(let waiter) = entry, waiter.token == token {
          entries[id] = nil
          woken.append(waiter.continuation)
        }
      }
    }
    for continuation in woken { continuation.resume(returning: .poked) }
  }

  /// Suspends until one of `interests` is ready, `token` is poked after `generation`, or
  /// `deadline` passes. With `cancellable` false (cleanup after a cancellation) the task's
  /// cancellation is ignored; such waits always have a deadline.
  func wait(
    for interests: [Interest], token: UInt64 = 0, since generation: UInt64 = 0,
    until deadline: ContinuousClock.Instant?, cancellable: Bool = true
  ) async throws -> Wake {
    let id = lock.withLock {
      defer { nextID += 1 }
      entries[nextID] = .reserved
      return nextID
    }
    let register = { (continuation: CheckedContinuation<Wake, any Error>) in
      var immediate: Result<Wake, any Error>?
      self.lock.withLock {
        if case .cancelled = self.entries[id] {
          self.entries[id] = nil
          immediate = .failure(CancellationError())
        } else if token != 0, (self.generations[token] ?? 0) != generation {
          self.entries[id] = nil
          immediate = .success(.poked)
        } else {
          self.entries[id] = .waiting(
            Waiter(interests: interests, token: token, deadline: deadline, continuation: continuation))
        }
      }
      if let immediate {
        continuation.resume(with: immediate)
      } else {
        self.wakeUp()
      }
    }
    guard cancellable else {
      return try await withCheckedThrowingContinuation(register)
    }
    return try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation(register)
    } onCancel: {
      var continuation: CheckedContinuation<Wake, any Error>?
      self.lock.withLock {
        switch self.entries[id] {
        case .reserved:
          self.entries[id] = .cancelled
        case .waiting(let waiter):
          self.entries[id] = nil
          continuation = waiter.continuation
        case .cancelled, nil:
          break
        }
      }
      continuation?.resume(throwing: CancellationError())
    }
  }

  /// Suspends until `deadline` (a timer on the same thread as the sockets).
  func sleep(until deadline: ContinuousClock.Instant) async throws {
    _ = try await wait(for: [], until: deadline)
  }

  private func wakeUp() {
    let needed = lock.withLock {
      defer { wakePending = true }
      return !wakePending
    }
    if needed {
      var byte: UInt8 = 1
      _ = Glibc.write(wakeWrite, &byte, 1)
    }
  }

  private func run() {
    var descriptors: [pollfd] = []
    var owners: [UInt64] = []
    var drain = [UInt8](repeating: 0, count: 64)
    while true {
      descriptors.removeAll(keepingCapacity: true)
      owners.removeAll(keepingCapacity: true)
      descriptors.append(pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
      owners.append(0)
      var nearest: ContinuousClock.Instant?
      lock.withLock {
        wakePending = false
        for (id, entry) in entries {
          guard case .waiting(let waiter) = entry else { continue }
          for interest in waiter.interests {
            descriptors.append(pollfd(fd: interest.fd, events: interest.events, revents: 0))
            owners.append(id)
          }
          if let deadline = waiter.deadline {
            nearest = nearest.map { min($0, deadline) } ?? deadline
          }
        }
      }
      var timeout: Int32 = -1
      if let nearest {
        let remaining = nearest - .now
        if remaining <= .zero {
          timeout = 0
        } else {
          let (seconds, attoseconds) = remaining.components
          let ms = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
          timeout = Int32(clamping: ms)
        }
      }
      let count = poll(&descriptors, nfds_t(descriptors.count), timeout)
      if count < 0 && errno != EINTR {
        fatalError("deployctl: poll failed in the SSH event loop: \(String(cString: strerror(errno)))")
      }
      if descriptors[0].revents != 0 {
        while read(wakeRead, &drain, drain.count) > 0 {}
      }
      var ready = Set<UInt64>()
      if count > 0 {
        for index in 1..<descriptors.count where descriptors[index].revents != 0 {
          ready.insert(owners[index])
        }
      }
      let now = ContinuousClock.now
      var resumed: [(CheckedContinuation<Wake, any Error>, Wake)] = []
      lock.withLock {
        for (id, entry) in entries {
          guard case .waiting(let waiter) = entry else { continue }
          if ready.contains(id) {
            entries[id] = nil
            resumed.append((waiter.continuation, .ready))
          } else if let deadline = waiter.deadline, deadline <= now {
            entries[id] = nil
            resumed.append((waiter.continuation, .timedOut))
          }
        }
      }
      for (continuation, wake) in resumed { continuation.resume(returning: wake) }
    }
  }
}
