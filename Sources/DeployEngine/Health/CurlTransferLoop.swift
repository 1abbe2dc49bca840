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
/// Tasks hand transfers in and cancel them through a lock-protected inbox, then wake the thread
/// with `curl_multi_wakeup`; the thread adds, removes and completes transfers between
/// `curl_multi_poll` calls. Cancellation takes effect within one loop turn: the handle leaves
/// the multi handle (closing its connection) and the waiting task resumes at once.
final class CurlTransferLoop: @unchecked Sendable {
  private let multi: UnsafeMutableRawPointer
  private let lock = NSLock()
  private var incoming: [CurlTransfer] = []
  private var cancellations: [CurlTransfer] = []
  /// Loop thread only.
  private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]

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
    let thread = Thread { [unowned self] in self.run() }
    thread.name = "deployctl-curl"
    thread.start()
  }

  deinit {
    // Unreached for the shared loop (it lives as long as the process), but the handle has one owner.
    curl_multi_cleanup(multi)
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
    // Only fails for a bad multi handle, which ours never is; a lost wakeup would still be
    // caught by the poll timeout below.
    _ = curl_multi_wakeup(multi)
  }

  private func run() {
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

      var running: Int32 = 0
      let performed = curl_multi_perform(multi, &running)
      if performed != CURLM_OK {
        failAll(multiError(performed, call: "curl_multi_perform"))
      }
      collectFinished()

      // Sleeps until a socket is ready, libcurl's next timeout, a wakeup, or at most 1 s.
      let polled = curl_multi_poll(multi, nil, 0, 1000, nil)
      if polled != CURLM_OK {
        failAll(multiError(polled, call: "curl_multi_poll"))
        usleep(10_000)  // never spin if polling itself keeps failing
      }
    }
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
