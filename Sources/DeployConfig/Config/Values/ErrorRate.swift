/// A share written as a percentage (`1%`, `0.5%`, `0%`), as 0...1.
enum ErrorRate {
  static func parse(_ text: String) throws(ValueError) -> Double {
    let example = "write a percentage like `1%` or `0.5%`"
    guard text.hasSuffix("%") else {
      throw ValueError("`\(text)` is not a percentage; \(example)")
    }
    let number = text.dropLast()
    guard !number.isEmpty, number.allSatisfy({ $0 == "." || Names.isDigit($0.asciiValue ?? 0) }),
      number.filter({ $0 == "." }).count <= 1, let value = Double(number)
    else {
      throw ValueError("`\(text)` is not a percentage; \(example)")
    }
    guard value <= 100 else { throw ValueError("`\(text)` is more than 100%") }
    return value / 100
  }
}

/// The load test's limits as the command line takes them, with the plan's syntax.
public enum LoadTestLimits {
  /// `1%` → 0.01.
  public static func errorRate(_ text: String) throws(ValueError) -> Double {
    try ErrorRate.parse(text)
  }
}
