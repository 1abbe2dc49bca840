import CCurl
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// One URL the loop sends requests to, with the headers every request to it carries.
struct Target {
  let url: String
  let headers: HeaderList?
}

/// Why the loop stopped sending.
enum StopReason: String, Codable {
  case duration
  case untilFile = "until_file"
  case signal
}

enum LoopError: Error, CustomStringConvertible {
  case curl(String, String)
  case usage(String)

  var description: String {
    switch self {
    case .curl(let call, let message): "request-loop: \(call) failed: \(message)"
    case .usage(let message): "request-loop: \(message)"
    }
  }
}

/// Sends about `rate` requests a second to each target, open-loop (request k of a target is due
/// at k / rate seconds, whether or not earlier ones have been answered), each on a new
/// connection, through one libcurl multi handle on this thread. Stops sending after `duration`,
/// when `untilFile` appears, or on SIGINT or SIGTERM; then waits for the requests in flight (each
/// bounded by `timeout`) and returns what it saw.
struct RequestLoop {
  let targets: [Target]
  let rate: Double
  let timeout: Double
  let duration: Double
  let untilFile: String?
  let bodyLimit: Int
  let keepsTimeline: Bool

  func run() throws(LoopError) -> Report {
    guard curl_global_init(Int(CURL_GLOBAL_ALL)) == CURLE_OK else {
      throw .curl("curl_global_init", "failed")
    }
    guard let multi = curl_multi_init() else { throw .curl("curl_multi_init", "out of memory") }
    defer { curl_multi_cleanup(multi) }
    let signals = StopSignals()
    // A slow or dead target must not hold back the others: each may have this many in flight
    // (its requests for one timeout, and some); past it, its next requests wait and go late.
    let perTargetLimit = Int(rate * timeout) + 16
    raiseOpenFileLimit(to: perTargetLimit * targets.count + 64)

    let clock = ContinuousClock()
    let start = clock.now
    func elapsed() -> Double {
      let (seconds, attoseconds) = (clock.now - start).components
      return Double(seconds) + Double(attoseconds) / 1e18
    }
    var sent = Array(repeating: 0, count: targets.count)
    var inFlight = Array(repeating: 0, count: targets.count)
    var transfers: [UnsafeMutableRawPointer: Transfer] = [:]
    var tallies = Array(repeating: Tally(), count: targets.count)
    var stopped: (reason: StopReason, at: Double)?

    while true {
      let now = elapsed()
      if stopped == nil {
        if signals.pending {
          stopped = (.signal, now)
        } else if let untilFile, access(untilFile, F_OK) == 0 {
          stopped = (.untilFile, now)
        } else if now >= duration {
          stopped = (.duration, now)
        }
      }
      if stopped == nil {
        for index in targets.indices {
          while Double(sent[index]) <= now * rate && inFlight[index] < perTargetLimit {
            let transfer = try Transfer(
              target: targets[index], index: index, due: Double(sent[index]) / rate, timeout: timeout,
              bodyLimit: bodyLimit)
            let added = curl_multi_add_handle(multi, transfer.handle)
            guard added == CURLM_OK else {
              throw .curl("curl_multi_add_handle", String(cString: curl_multi_strerror(added)))
            }
            transfers[transfer.handle] = transfer
            sent[index] += 1
            inFlight[index] += 1
          }
        }
      } else if transfers.isEmpty {
        break
      }

      var running: Int32 = 0
      let performed = curl_multi_perform(multi, &running)
      guard performed == CURLM_OK else {
        throw .curl("curl_multi_perform", String(cString: curl_multi_strerror(performed)))
      }
      var queued: Int32 = 0
      while let message = curl_multi_info_read(multi, &queued) {
        guard dc_curl_msg_is_done(message) != 0, let handle = message.pointee.easy_handle,
          let transfer = transfers.removeValue(forKey: handle)
        else { continue }
        let response = transfer.result(dc_curl_msg_result(message))
        curl_multi_remove_handle(multi, handle)
        inFlight[transfer.target] -= 1
        tallies[transfer.target].record(response, at: elapsed(), keepingTimeline: keepsTimeline)
      }

      // Sleep until the next request is due (at most 5 ms, so a stop is heard at once), or
      // until a socket has something.
      var wait = 5.0
      if stopped == nil {
        let now = elapsed()
        for index in targets.indices where inFlight[index] < perTargetLimit {
          wait = min(wait, max(0, (Double(sent[index]) / rate - now) * 1000))
        }
      }
      let polled = curl_multi_poll(multi, nil, 0, Int32(wait.rounded(.up)), nil)
      guard polled == CURLM_OK else {
        throw .curl("curl_multi_poll", String(cString: curl_multi_strerror(polled)))
      }
    }

    let end = stopped?.at ?? elapsed()
    let urls = targets.indices.map { tallies[$0].summary(url: targets[$0].url, end: end) }
    let total = tallies.reduce(into: Tally()) { $0.merge($1) }.summary(url: nil, end: end)
    return Report(
      ratePerURL: rate, timeoutSeconds: timeout, durationSeconds: end,
      stoppedBy: stopped?.reason ?? .duration, urls: urls, total: total)
  }

  /// Each request holds a socket: lift the soft limit on open files toward the hard one.
  private func raiseOpenFileLimit(to wanted: Int) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(wanted) else {
      return
    }
    limit.rlim_cur = min(limit.rlim_max, rlim_t(wanted))
    // Not fatal: with the lower limit, requests past it fail as `other` and are counted so.
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
  }
}

/// SIGINT and SIGTERM, blocked for the whole process and polled with `sigpending`, so a stop
/// needs no handler and no shared state: the loop sees it on its next turn.
struct StopSignals {
  init() {
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    sigprocmask(SIG_BLOCK, &set, nil)
    // A shell starts background jobs with SIGINT ignored, and an ignored signal is dropped,
    // never pending: back to the default (harmless now that both are blocked), so one waits.
    signal(SIGINT, SIG_DFL)
    signal(SIGTERM, SIG_DFL)
    signal(SIGPIPE, SIG_IGN)
  }

  var pending: Bool {
    var set = sigset_t()
    sigemptyset(&set)
    guard sigpending(&set) == 0 else { return false }
    return sigismember(&set, SIGINT) == 1 || sigismember(&set, SIGTERM) == 1
  }
}
