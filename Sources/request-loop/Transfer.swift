import CCurl
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// One request: a fresh easy handle with a connection of its own (`CURLOPT_FRESH_CONNECT`,
/// `CURLOPT_FORBID_REUSE`), as a new client would make it, so a refused connection shows as one.
/// Owns its handle and the first `bodyLimit` bytes of the body; freed in `deinit`.
final class Transfer {
  let handle: UnsafeMutableRawPointer
  let target: Int
  /// When the schedule wanted it sent, seconds since the loop's start.
  let due: Double
  private(set) var body: [UInt8] = []
  private let bodyLimit: Int
  private let errorBuffer: UnsafeMutablePointer<CChar>

  init(target: Target, index: Int, due: Double, timeout: Double, bodyLimit: Int) throws(LoopError) {
    guard let handle = curl_easy_init() else { throw .curl("curl_easy_init", "out of memory") }
    self.handle = handle
    self.target = index
    self.due = due
    self.bodyLimit = bodyLimit
    errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
    errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    let milliseconds = max(1, Int(timeout * 1000))
    try set(dc_curl_setopt_string(handle, CURLOPT_URL, target.url), "CURLOPT_URL")
    try set(dc_curl_setopt_long(handle, CURLOPT_FRESH_CONNECT, 1), "CURLOPT_FRESH_CONNECT")
    try set(dc_curl_setopt_long(handle, CURLOPT_FORBID_REUSE, 1), "CURLOPT_FORBID_REUSE")
    try set(dc_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "CURLOPT_NOSIGNAL")
    try set(dc_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, milliseconds), "CURLOPT_TIMEOUT_MS")
    try set(dc_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, milliseconds), "CURLOPT_CONNECTTIMEOUT_MS")
    // Straight to the address given: an http_proxy in the caller's environment would measure the
    // proxy, not the hosts.
    try set(dc_curl_setopt_string(handle, CURLOPT_NOPROXY, "*"), "CURLOPT_NOPROXY")
    try set(
      dc_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer)),
      "CURLOPT_ERRORBUFFER")
    if let headers = target.headers {
      try set(dc_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, headers.list), "CURLOPT_HTTPHEADER")
    }
    try set(dc_curl_setopt_write_function(handle, writeBody), "CURLOPT_WRITEFUNCTION")
    try set(
      dc_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(self).toOpaque()),
      "CURLOPT_WRITEDATA")
  }

  deinit {
    curl_easy_cleanup(handle)
    errorBuffer.deallocate()
  }

  private func set(_ code: CURLcode, _ option: String) throws(LoopError) {
    guard code == CURLE_OK else {
      throw .curl("curl_easy_setopt(\(option))", String(cString: curl_easy_strerror(code)))
    }
  }

  /// How it ended, once libcurl says it is done with `code`.
  func result(_ code: CURLcode) -> Response {
    var microseconds: curl_off_t = 0
    _ = dc_curl_getinfo_off_t(handle, CURLINFO_TOTAL_TIME_T, &microseconds)
    let latency = Double(microseconds) / 1_000_000
    guard code == CURLE_OK else {
      var osErrno = 0
      _ = dc_curl_getinfo_long(handle, CURLINFO_OS_ERRNO, &osErrno)
      return Response(outcome: .failed(FailureKind(code, osErrno: Int32(osErrno))), latency: latency)
    }
    var status = 0
    _ = dc_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
    return Response(
      outcome: .answered(status: status, body: String(decoding: body, as: UTF8.self)), latency: latency)
  }

  fileprivate func append(_ data: UnsafeRawBufferPointer) {
    body.append(contentsOf: data.prefix(max(0, bodyLimit - body.count)))
  }
}

/// What one request came back with.
struct Response {
  enum Outcome {
    case answered(status: Int, body: String)
    case failed(FailureKind)
  }
  var outcome: Outcome
  /// libcurl's total time for the transfer, in seconds.
  var latency: Double
}

/// Why a request failed: the names `failures_by_kind` uses (docs/testing.md).
enum FailureKind: String, CaseIterable {
  /// The connection was refused: nothing listened on the port.
  case refused
  /// The connection was reset, or closed before a whole response.
  case reset
  /// The server closed the connection without answering.
  case emptyReply = "empty_reply"
  /// No complete answer within `--timeout`.
  case timeout
  /// Connecting failed another way (no route to host, unreachable).
  case connect
  /// The server answered 500 to 599.
  case http5xx = "http_5xx"
  case other

  init(_ code: CURLcode, osErrno: Int32) {
    switch code {
    case CURLE_COULDNT_CONNECT: self = osErrno == ECONNREFUSED ? .refused : .connect
    case CURLE_OPERATION_TIMEDOUT: self = .timeout
    case CURLE_GOT_NOTHING: self = .emptyReply
    case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE: self = .reset
    default: self = osErrno == ECONNRESET ? .reset : .other
    }
  }
}

/// Request headers for one URL, in libcurl's list, which it does not copy: kept for the run.
final class HeaderList {
  let list: UnsafeMutablePointer<curl_slist>

  init(_ headers: [String]) throws(LoopError) {
    var list: UnsafeMutablePointer<curl_slist>?
    for header in headers {
      guard let appended = curl_slist_append(list, header) else {
        curl_slist_free_all(list)
        throw .curl("curl_slist_append", "out of memory")
      }
      list = appended
    }
    guard let list else { throw .usage("no header given") }
    self.list = list
  }

  deinit { curl_slist_free_all(list) }
}

/// CURLOPT_WRITEFUNCTION: keep the body's first bytes (enough to tell releases apart), read the rest.
private func writeBody(
  _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
  let total = size * count
  guard let context, let data, total > 0 else { return total }
  Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
    .append(UnsafeRawBufferPointer(start: data, count: total))
  return total
}
