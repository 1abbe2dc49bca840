extension Duration {
  /// Parses a duration as users write them: `500ms`, `2s`, `1m30s`, `1h`, `1.5s`; a number and
  /// a unit (`ms`, `s`, `m`, `h`, `d`), repeated. `0` alone is zero. A bare number is refused: `10`
  /// could mean seconds or milliseconds.
  public init(parsing text: String) throws(ValueError) {
    let example = "write a number and a unit: `500ms`, `10s`, `1m30s`, `1h`"
    if text == "0" {
      self = .zero
      return
    }
    var rest = Substring(text)
    var nanoseconds: Int64 = 0
    guard !rest.isEmpty else { throw ValueError("empty duration; \(example)") }
    while !rest.isEmpty {
      let whole = rest.prefix { Names.isDigit($0.asciiValue ?? 0) }
      rest = rest.dropFirst(whole.count)
      var fraction: Substring = ""
      if rest.first == "." {
        fraction = rest.dropFirst().prefix { Names.isDigit($0.asciiValue ?? 0) }
        rest = rest.dropFirst(1 + fraction.count)
      }
      guard !whole.isEmpty || !fraction.isEmpty else {
        throw ValueError("`\(text)` is not a duration; \(example)")
      }
      let unit = rest.prefix { ($0.asciiValue.map(Names.isLetter)) ?? false }
      rest = rest.dropFirst(unit.count)
      let unitNanoseconds: Int64
      switch unit {
      case "ms": unitNanoseconds = 1_000_000
      case "s": unitNanoseconds = 1_000_000_000
      case "m": unitNanoseconds = 60_000_000_000
      case "h": unitNanoseconds = 3_600_000_000_000
      case "d": unitNanoseconds = 86_400_000_000_000
      case "":
        throw ValueError("`\(text)` has no unit; \(example)")
      default:
        throw ValueError("`\(text)`: unknown unit `\(unit)`; \(example)")
      }
      guard let w = whole.isEmpty ? 0 : Int64(whole), w <= 1_000_000 else {
        throw ValueError("`\(text)` is too long a duration")
      }
      let product = w.multipliedReportingOverflow(by: unitNanoseconds)
      var value = product.partialValue
      guard !product.overflow else { throw ValueError("`\(text)` is too long a duration") }
      if !fraction.isEmpty {
        let digits = fraction.prefix(9)
        let scale = (0..<digits.count).reduce(Int64(1)) { acc, _ in acc * 10 }
        guard let part = Int64(digits) else { throw ValueError("`\(text)` is not a duration; \(example)") }
        value += part * unitNanoseconds / scale
      }
      let (sum, overflow) = nanoseconds.addingReportingOverflow(value)
      guard !overflow else { throw ValueError("`\(text)` is too long a duration") }
      nanoseconds = sum
    }
    self = .nanoseconds(nanoseconds)
  }

  /// The duration as it would be written in a file: `1m30s`, `500ms`, `0s`.
  public var configText: String {
    let (seconds, attoseconds) = components
    var ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
    if ms == 0 { return "0s" }
    var text = ""
    let hours = ms / 3_600_000
    ms %= 3_600_000
    let minutes = ms / 60_000
    ms %= 60_000
    if hours > 0 { text += "\(hours)h" }
    if minutes > 0 { text += "\(minutes)m" }
    if ms % 1000 == 0 {
      if ms > 0 { text += "\(ms / 1000)s" }
    } else if ms >= 1000 {
      text += "\(ms / 1000).\(String(ms % 1000 + 1000).dropFirst())s"
    } else {
      text += "\(ms)ms"
    }
    return text
  }
}
