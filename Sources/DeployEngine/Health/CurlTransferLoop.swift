import CCurl
import Foundation

/// How one transfer ended, read on the loop thread and handed back as a value.
enum CurlTransferOutcome: Sendable {
  /// The server answered. `body` is at most the easy handle's body limit.
  case response(status: Int, body: [UInt8], truncated: Bool)
  /// No usable answer: the transfer's CURLcode as a typed error, plus the socket errno.
  case failed(HealthError, code: CURLcode, osErrno: Int32)
  /// Removed from the loop because the waiting task was cancelled.
  case cancelled
}

/// One transfer on its way through the loop. `state` is guarded by the loop's lock.
final class CurlTransfer: @unchecked Sendable {
  let easy: CurlEasy
  fileprivate var continuation: CheckedContinuation<CurlTransferOutcome, Never>?
  fileprivate var cancelRequested = false
  /// Called on the loop thread each time a transfer of this handle ends; `true` starts the
  /// handle again at once (same options, the connection kept when the server allows), with no
  /// round trip through a task. The waiting task resumes once it returns `false`. A load test
  /// keeps its requests in flight this way.
  fileprivate let restart: ((CURLcode) -> Bool)?

  init(_ easy: CurlEasy, restart: ((CURLcode) -> Bool)? = nil) {
    self.easy = easy
    self.restart = restart
  }
}

/// Drives every HTTP probe of the process through one libcurl multi handle on a thread of its
/// own, so no libcurl call ever blocks Swift's cooperative pool (two threads on our machines)
/// and a hundred probes in flight cost one thread, not a hundred.
///
/// The thread runs libcurl's socket interface over epoll: libcurl says which sockets it waits
/// on (the socket callback adds, changes or removes them in the epoll set) and when it next
/// needs a call without socket activity (the timer callback); the thread waits in
/// `epoll_wait` and hands each ready socket to `curl_multi_socket_action`, so a turn costs work
/// for the sockets that are ready, not a poll of every transfer (docs/benchmarks.md "Load
/// test").
///
/// Tasks hand transfers in and cancel them through a lock-protected inbox, then wake the thread
/// through an eventfd in the same epoll set; the thread adds, removes and completes transfers
/// between waits. Cancellation takes effect within one loop turn: the handle leaves the multi
/// handle (closing its connection) and the waiting task resumes at once.
final class CurlTransferLoop: @unchecked Sendable {
  private let multi: UnsafeMutableRawPointer
  private let lock = NSLock()
  private var incoming: [CurlTransfer] = []
  private var cancellations: [CurlTransfer] = []
  /// Loop thread only.
  private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]
  /// The epoll set of libcurl's sockets and `wakeup`.
  private let epoll: Int32
  /// An eventfd: a write wakes the thread from `epoll_wait`.
  private let wakeup: Int32
  /// Loop thread only: the sockets in the epoll set, and when libcurl wants its timeout call.
  fileprivate var watched: Set<Int32> = []
  fileprivate var deadline: ContinuousClock.Instant?

  private static let sharedResult: Result<CurlTransferLoop, HealthError> = {
    do throws(HealthError) {
      return .success(try CurlTransferLoop())
    } catch {
      return .failure(error)
    }
  }()

  /// The process's loop, started on first use and kept for the life of the process.
  static func shared() throws(HealthError) -> CurlTransferLoop {
    try sharedResult.get()
  }

  private init() throws(HealthError) {
    try CurlGlobal.ensureInitialized()
    guard let multi = curl_multi_init() else {
      throw .curlMulti(call: "curl_multi_init", code: -1, message: "out of memory")
    }
    self.multi = multi
    epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
    wakeup = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
    guard epoll >= 0, wakeup >= 0 else {
      let reason = String(cString: strerror(errno))
      curl_multi_cleanup(multi)
      throw .curlMulti(call: "epoll_create1/eventfd", code: Int(errno), message: reason)
    }
    var event = epoll_event()
    event.events = EPOLLIN.rawValue
    event.data.fd = wakeup
    guard epoll_ctl(epoll, EPOLL_CTL_ADD, wakeup, &event) == 0 else {
      let reason = String(cString: strerror(errno))
      curl_multi_cleanup(multi)
      throw .curlMulti(call: "epoll_ctl", code: Int(errno), message: reason)
    }
    // The loop is never freed (see `shared`), so the callbacks' unretained pointer stays valid.
    let context = Unmanaged.passUnretained(self).toOpaque()
    for (code, call) in [
      (dc_curl_multi_setopt_socket_function(multi, curlSocketChanged), "CURLMOPT_SOCKETFUNCTION"),
      (dc_curl_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, context), "CURLMOPT_SOCKETDATA"),
      (dc_curl_multi_setopt_timer_function(multi, curlTimerChanged), "CURLMOPT_TIMERFUNCTION"),
      (dc_curl_multi_setopt_pointer(multi, CURLMOPT_TIMERDATA, context), "CURLMOPT_TIMERDATA"),
    ] where code != CURLM_OK {
      curl_multi_cleanup(multi)
      throw .curlMulti(
        call: "curl_multi_setopt(\(call))", code: Int(code.rawValue),
        message: String(cString: curl_multi_strerror(code)))
    }
    let thread = Thread { [unowned self] in self.run() }
    thread.name = "deployctl-curl"
    thread.start()
  }

  deinit {
    // Unreached for the shared loop (it lives as long as the process), but the handles have one owner.
    curl_multi_cleanup(multi)
    close(epoll)
    close(wakeup)
  }

  /// Runs `transfer` to its end. Cancelling the calling task removes it from the loop promptly.
  func perform(_ transfer: CurlTransfer) async -> CurlTransferOutcome {
    await withTaskCancellationHandler {
      await withCheckedContinuation { continuation in
        let alreadyCancelled = lock.withLock {
          if transfer.cancelRequested { return true }
          transfer.continuation = continuation
          incoming.append(transfer)
          return false
        }
        if alreadyCancelled {
          continuation.resume(returning: .cancelled)
        } else {
          wake()
        }
      }
    } onCancel: {
      let submitted = lock.withLock {
        transfer.cancelRequested = true
        if transfer.continuation != nil { cancellations.append(transfer) }
        return transfer.continuation != nil
      }
      if submitted { wake() }
    }
  }

  private func wake() {
    var one: UInt64 = 1
    // Fails only when the counter is at its maximum, which means a wakeup is pending anyway;
    // a lost one would still be caught by the wait's 1 s bound below.
    _ = write(wakeup, &one, MemoryLayout<UInt64>.size)
  }

  private func run() {
    var events = [epoll_event](repeating: epoll_event(), count: 64)
    while true {
      let (added, cancelled) = lock.withLock {
        defer {
          incoming.removeAll()
          cancellations.removeAll()
        }
        return (incoming, cancellations)
      }
      for transfer in added { start(transfer) }
      for transfer in cancelled where active.removeValue(forKey: transfer.easy.handle) != nil {
        curl_multi_remove_handle(multi, transfer.easy.handle)
        finish(transfer, .cancelled)
      }

      // Sleeps until a socket is ready, libcurl's next timeout, a wakeup, or at most 1 s.
      var wait: Int32 = 1000
      if let deadline {
        let left = deadline - .now
        wait = left <= .zero ? 0 : Int32(min(1000, left.wholeMilliseconds))
      }
      let ready = epoll_wait(epoll, &events, Int32(events.count), wait)
      if ready < 0 {
        if errno != EINTR {
          failAll(.curlMulti(call: "epoll_wait", code: Int(errno), message: String(cString: strerror(errno))))
          usleep(10_000)  // never spin if waiting itself keeps failing
        }
        continue
      }
      var running: Int32 = 0
      for event in events.prefix(Int(ready)) {
        let fd = event.data.fd
        if fd == wakeup {
          var count: UInt64 = 0
          // Resets the counter; a failed read only means another turn wakes at once.
          _ = read(wakeup, &count, MemoryLayout<UInt64>.size)
          continue
        }
        var flags: Int32 = 0
        if event.events & (EPOLLIN.rawValue | EPOLLHUP.rawValue) != 0 { flags |= CURL_CSELECT_IN }
        if event.events & EPOLLOUT.rawValue != 0 { flags |= CURL_CSELECT_OUT }
        if event.events & EPOLLERR.rawValue != 0 { flags |= CURL_CSELECT_ERR }
        act(fd, flags, &running)
      }
      if let deadline, deadline <= .now {
        // Cleared first: libcurl sets the next one from inside the call.
        self.deadline = nil
        act(dc_curl_socket_timeout(), 0, &running)
      }
      collectFinished()
    }
  }

  private func act(_ socket: curl_socket_t, _ flags: Int32, _ running: inout Int32) {
    let code = curl_multi_socket_action(multi, socket, flags, &running)
    if code != CURLM_OK { failAll(multiError(code, call: "curl_multi_socket_action")) }
  }

  /// CURLMOPT_SOCKETFUNCTION: `socket` is to be watched for `what` (CURL_POLL_IN, _OUT,
  /// _INOUT) or no more (CURL_POLL_REMOVE).
  fileprivate func socketChanged(_ socket: Int32, _ what: Int32) -> Int32 {
    if what == CURL_POLL_REMOVE {
      // The socket may be closed already (then the kernel dropped it from the set).
      _ = epoll_ctl(epoll, EPOLL_CTL_DEL, socket, nil)
      watched.remove(socket)
      return 0
    }
    var event = epoll_event()
    event.events =
      (what & CURL_POLL_IN != 0 ? EPOLLIN.rawValue : 0) | (what & CURL_POLL_OUT != 0 ? EPOLLOUT.rawValue : 0)
    event.data.fd = socket
    // A number libcurl closed and opened again may still (or no longer) be in the set: try the
    // other operation when the first one says so.
    let first = watched.contains(socket) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD
    if epoll_ctl(epoll, first, socket, &event) != 0 {
      let other = first == EPOLL_CTL_MOD ? EPOLL_CTL_ADD : EPOLL_CTL_MOD
      if epoll_ctl(epoll, other, socket, &event) != 0 { return -1 }
    }
    watched.insert(socket)
    return 0
  }

  /// CURLMOPT_TIMERFUNCTION: call `curl_multi_socket_action` with CURL_SOCKET_TIMEOUT in
  /// `milliseconds` (-1: no timeout wanted).
  fileprivate func timerChanged(_ milliseconds: Int) -> Int32 {
    deadline = milliseconds < 0 ? nil : .now + .milliseconds(milliseconds)
    return 0
  }

  private func start(_ transfer: CurlTransfer) {
    if lock.withLock({ transfer.cancelRequested }) {
      finish(transfer, .cancelled)
      return
    }
    let added = curl_multi_add_handle(multi, transfer.easy.handle)
    guard added == CURLM_OK else {
      let error = multiError(added, call: "curl_multi_add_handle")
      finish(transfer, .failed(error, code: CURLE_FAILED_INIT, osErrno: 0))
      return
    }
    active[transfer.easy.handle] = transfer
  }

  private func collectFinished() {
    var queued: Int32 = 0
    while let message = curl_multi_info_read(multi, &queued) {
      guard dc_curl_msg_is_done(message) != 0, let handle = message.pointee.easy_handle else { continue }
      // Read the message before removing the handle: removal invalidates it.
      let code = dc_curl_msg_result(message)
      guard let transfer = active.removeValue(forKey: handle) else { continue }
      curl_multi_remove_handle(multi, handle)
      if let restart = transfer.restart, restart(code) {
        start(transfer)
        continue
      }
      finish(transfer, outcome(of: transfer.easy, code: code))
    }
  }

  private func outcome(of easy: CurlEasy, code: CURLcode) -> CurlTransferOutcome {
    // A write error after the body limit means "we read all we wanted", not a failure.
    if code == CURLE_OK || (code == CURLE_WRITE_ERROR && easy.bodyTruncated) {
      do throws(HealthError) {
        let status = try easy.info(CURLINFO_RESPONSE_CODE, "CURLINFO_RESPONSE_CODE")
        return .response(status: status, body: easy.body, truncated: easy.bodyTruncated)
      } catch {
        return .failed(error, code: CURLE_BAD_FUNCTION_ARGUMENT, osErrno: 0)
      }
    }
    // The errno only adds detail to the transfer's own error; 0 is "not known".
    let osErrno = (try? easy.info(CURLINFO_OS_ERRNO, "CURLINFO_OS_ERRNO")) ?? 0
    return .failed(easy.error(code, call: "transfer"), code: code, osErrno: Int32(osErrno))
  }

  private func multiError(_ code: CURLMcode, call: String) -> HealthError {
    .curlMulti(call: call, code: Int(code.rawValue), message: String(cString: curl_multi_strerror(code)))
  }

  private func failAll(_ error: HealthError) {
    for (handle, transfer) in active {
      curl_multi_remove_handle(multi, handle)
      finish(transfer, .failed(error, code: CURLE_FAILED_INIT, osErrno: 0))
    }
    active.removeAll()
  }

  private func finish(_ transfer: CurlTransfer, _ outcome: CurlTransferOutcome) {
    let continuation = lock.withLock {
      defer { transfer.continuation = nil }
      return transfer.continuation
    }
    continuation?.resume(returning: outcome)
  }
}

/// libcurl's socket callback, on the loop thread (inside `curl_multi_socket_action` or
/// `curl_multi_remove_handle`).
private func curlSocketChanged(
  _ easy: UnsafeMutableRawPointer?, _ socket: curl_socket_t, _ what: Int32,
  _ context: UnsafeMutableRawPointer?, _ socketContext: UnsafeMutableRawPointer?
) -> Int32 {
  guard let context else { return -1 }
  return Unmanaged<CurlTransferLoop>.fromOpaque(context).takeUnretainedValue().socketChanged(socket, what)
}

/// libcurl's timer callback, on the loop thread.
private func curlTimerChanged(
  _ multi: UnsafeMutableRawPointer?, _ milliseconds: Int, _ context: UnsafeMutableRawPointer?
) -> Int32 {
  guard let context else { return -1 }
  return Unmanaged<CurlTransferLoop>.fromOpaque(context).takeUnretainedValue().timerChanged(milliseconds)
}
