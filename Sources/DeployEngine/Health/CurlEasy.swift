import CCurl
import Foundation

/// libcurl's process-wide initialisation, done once, lazily, on first use. A Swift `static let`
/// runs its initialiser exactly once even under concurrent first access.
enum CurlGlobal {
  private static let initResult: CURLcode = dc_curl_global_init_default()

  static func ensureInitialized() throws(HealthError) {
    let code = initResult
    guard code == CURLE_OK else {
      throw .curl(
        call: "curl_global_init", code: Int(code.rawValue),
        message: String(cString: curl_easy_strerror(code)), detail: "")
    }
  }
}

/// Owns one CURL easy handle (freed in `deinit`) with its error buffer and the bounded body
/// buffer its write callback fills.
///
/// Threading: the handle is configured by its creator, then handed to `CurlTransferLoop`, whose
/// thread alone touches it until the transfer ends. It is never used from two threads at once,
/// which is all libcurl asks of an easy handle.
final class CurlEasy: @unchecked Sendable {
  let handle: UnsafeMutableRawPointer
  private let errorBuffer: UnsafeMutablePointer<CChar>
  private let bodyLimit: Int
  /// Bytes past `bodyLimit` are dropped and the transfer goes on (a load test reads whole
  /// responses but keeps none), instead of stopping it there.
  private let discardsExcess: Bool
  private(set) var body: [UInt8] = []
  /// The body was longer than `bodyLimit`; the write callback stopped the transfer there.
  private(set) var bodyTruncated = false

  init(bodyLimit: Int, discardsExcess: Bool = false) throws(HealthError) {
    try CurlGlobal.ensureInitialized()
    guard let handle = curl_easy_init() else {
      throw .curl(call: "curl_easy_init", code: -1, message: "out of memory", detail: "")
    }
    self.handle = handle
    self.bodyLimit = max(0, bodyLimit)
    self.discardsExcess = discardsExcess
    errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
    errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
    try check(
      dc_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer)),
      "curl_easy_setopt(CURLOPT_ERRORBUFFER)")
    try check(
      dc_curl_setopt_write_function(handle, curlWriteBody), "curl_easy_setopt(CURLOPT_WRITEFUNCTION)")
    try check(
      dc_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, Unmanaged.passUnretained(self).toOpaque()),
      "curl_easy_setopt(CURLOPT_WRITEDATA)")
  }

  /// Request headers (`CURLOPT_HTTPHEADER`), which libcurl does not copy: kept until `deinit`.
  private var headerList: UnsafeMutablePointer<curl_slist>?

  deinit {
    curl_easy_cleanup(handle)
    curl_slist_free_all(headerList)
    errorBuffer.deallocate()
  }

  /// Adds request headers (`Name: value`; `Host: name` replaces libcurl's own).
  func addHeaders(_ headers: [String]) throws(HealthError) {
    guard !headers.isEmpty else { return }
    for header in headers {
      guard let list = curl_slist_append(headerList, header) else {
        throw .curl(call: "curl_slist_append", code: -1, message: "out of memory", detail: "")
      }
      headerList = list
    }
    try check(
      dc_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, headerList), "curl_easy_setopt(CURLOPT_HTTPHEADER)")
  }

  /// Sends `Host: name` instead of the URL's host (nothing when nil).
  func setHostHeader(_ name: String?) throws(HealthError) {
    if let name { try addHeaders(["Host: \(name)"]) }
  }

  /// Makes the request a POST of `body` (copied by libcurl) with `headers` (`Name: value`).
  func setPost(body: String, headers: [String]) throws(HealthError) {
    try addHeaders(headers)
    try set(CURLOPT_POST, 1, "CURLOPT_POST")
    try set(CURLOPT_POSTFIELDSIZE, body.utf8.count, "CURLOPT_POSTFIELDSIZE")
    try set(CURLOPT_COPYPOSTFIELDS, body, "CURLOPT_COPYPOSTFIELDS")
  }

  /// The one place a CURLcode becomes a Swift error.
  func check(_ code: CURLcode, _ call: @autoclosure () -> String) throws(HealthError) {
    guard code == CURLE_OK else { throw error(code, call: call()) }
  }

  /// The typed error for `code`, with libcurl's message and whatever it wrote to the error buffer.
  func error(_ code: CURLcode, call: String) -> HealthError {
    .curl(
      call: call, code: Int(code.rawValue), message: String(cString: curl_easy_strerror(code)),
      detail: String(cString: errorBuffer).trimmingCharacters(in: .whitespacesAndNewlines))
  }

  func set(_ option: CURLoption, _ value: Int, _ name: String) throws(HealthError) {
    try check(dc_curl_setopt_long(handle, option, value), "curl_easy_setopt(\(name))")
  }

  /// libcurl copies string options, so `value` need not outlive the call.
  func set(_ option: CURLoption, _ value: String, _ name: String) throws(HealthError) {
    try check(dc_curl_setopt_string(handle, option, value), "curl_easy_setopt(\(name))")
  }

  func info(_ info: CURLINFO, _ name: String) throws(HealthError) -> Int {
    var value = 0
    try check(dc_curl_getinfo_long(handle, info, &value), "curl_easy_getinfo(\(name))")
    return value
  }

  fileprivate func append(_ data: UnsafeRawBufferPointer) -> Bool {
    let room = bodyLimit - body.count
    if data.count <= room {
      body.append(contentsOf: data)
      return true
    }
    body.append(contentsOf: data.prefix(max(0, room)))
    bodyTruncated = true
    return discardsExcess
  }
}

/// CURLOPT_WRITEFUNCTION: keep the first `bodyLimit` bytes, then stop the transfer (a short
/// count makes libcurl end it with CURLE_WRITE_ERROR, which the probe treats as "enough read").
/// A health check needs the status and a prefix to match, never a multi-megabyte page.
private func curlWriteBody(
  _ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?
) -> Int {
  guard let context else { return 0 }
  let easy = Unmanaged<CurlEasy>.fromOpaque(context).takeUnretainedValue()
  let total = size * count
  guard total > 0, let data else { return total }
  return easy.append(UnsafeRawBufferPointer(start: data, count: total)) ? total : 0
}
