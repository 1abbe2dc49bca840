import DeployConfig
import Foundation

/// What can go wrong in the health layer itself, as opposed to an unhealthy application (which
/// is a `ProbeResult`, not an error).
public enum HealthError: DeployctlError, LocalizedError, Equatable {
  /// A libcurl call failed. `message` is `curl_easy_strerror`, `detail` the text libcurl left
  /// in `CURLOPT_ERRORBUFFER` (often names the host and port), empty if none.
  case curl(call: String, code: Int, message: String, detail: String)
  /// A libcurl multi-interface call failed (`curl_multi_strerror`).
  case curlMulti(call: String, code: Int, message: String)
  /// The probe URL cannot be used.
  case invalidURL(String, reason: String)
  /// A policy value is out of range.
  case invalidPolicy(String)

  public var exitStatus: ExitStatus {
    switch self {
    case .invalidURL, .invalidPolicy:
      // Detected while building the check, before anything on a host changed.
      return .refused
    case .curl, .curlMulti:
      // The engine decides the final status (it rolls back); on its own this means "failed".
      return .failedRestored
    }
  }

  public var description: String {
    switch self {
    case .curl(let call, let code, let message, let detail):
      let more = detail.isEmpty || detail == message ? "" : " (\(detail))"
      return "health check: \(call) failed with CURLcode \(code): \(message)\(more)"
    case .curlMulti(let call, let code, let message):
      return "health check: \(call) failed with CURLMcode \(code): \(message)"
    case .invalidURL(let url, let reason):
      return "health check URL \"\(url)\" cannot be used: \(reason); use http://HOST:PORT/PATH or https://…"
    case .invalidPolicy(let message):
      return "health policy: \(message)"
    }
  }

  public var errorDescription: String? { description }
}
