import Foundation

/// Reading back the JSON documents deployctl prints with `--output json` (`CommandReport`,
/// `StatusReport`, `HistoryReport`, …), as CI scripts and the tests do. Their decoding is
/// synthesized from their coding keys; the one thing a plain `JSONDecoder` cannot read is
/// their times, which they write as RFC 3339 text (`live_since`, `time`), as on the hosts.
public enum ReportDecoding {
  public static func decode<T: Decodable>(_ type: T.Type, from json: String) throws -> T {
    try HostStateJSON.decoder().decode(type, from: Data(json.utf8))
  }
}
