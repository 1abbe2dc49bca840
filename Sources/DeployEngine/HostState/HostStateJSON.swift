import Foundation

/// One JSON dialect for everything deployctl writes on hosts: keys sorted, one line, times as
/// RFC 3339 UTC with milliseconds (`2026-11-21T17:15:30.123Z`).
///
/// Times are kept to whole milliseconds (`millisecondDate`) both when a record is made and when
/// it is read back, so a value read from a host equals the one that was written.
package enum HostStateJSON {
  static func millisecondDate(_ date: Date) -> Date {
    Date(timeIntervalSince1970: Double(milliseconds(date)) / 1000)
  }

  private static func milliseconds(_ date: Date) -> Int64 {
    Int64((date.timeIntervalSince1970 * 1000).rounded())
  }

  package static func format(_ date: Date) -> String {
    let ms = milliseconds(date)
    let seconds = ms.quotientAndRemainder(dividingBy: 1000)
    let (whole, fraction) = seconds.remainder < 0 ? (seconds.quotient - 1, seconds.remainder + 1000) : seconds
    let base = Date(timeIntervalSince1970: Double(whole)).formatted(Date.ISO8601FormatStyle())
    return String(base.dropLast()) + "." + String(String(fraction + 1000).dropFirst()) + "Z"
  }

  static func parse(_ text: String) -> Date? {
    DockerTime.parse(text).map(millisecondDate)
  }

  static func encoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .custom { date, encoder in
      var container = encoder.singleValueContainer()
      try container.encode(format(date))
    }
    return encoder
  }

  static func decoder() -> JSONDecoder {
    let decoder = JSONDecoder()
    decoder.dateDecodingStrategy = .custom { decoder in
      let container = try decoder.singleValueContainer()
      let text = try container.decode(String.self)
      guard let date = parse(text) else {
        throw DecodingError.dataCorruptedError(
          in: container, debugDescription: "not an RFC 3339 time: \(text)")
      }
      return date
    }
    return decoder
  }

  /// One line of JSON (JSONEncoder escapes newlines inside strings).
  static func line<T: Encodable>(_ value: T) -> String {
    do {
      return String(decoding: try encoder().encode(value), as: UTF8.self)
    } catch {
      // Our records are plain structs of strings, numbers and dates: JSONEncoder fails only for a
      // non-finite number, which none of them holds.
      preconditionFailure("\(T.self) cannot be written as a JSON line: \(error)")
    }
  }
}
