/// A size as Docker's log options take it (`max-size`): `10m`, `512k`, `1g`, or bytes.
/// Units are decimal (k = 1000), as Docker reads them.
public struct ByteSize: Sendable, Hashable, CustomStringConvertible {
  public var bytes: Int64
  /// The value as given to Docker (`--log-opt max-size=10m`).
  public var dockerValue: String

  public init(parsing text: String) throws(ValueError) {
    let example = "write a number and a unit: `512k`, `10m`, `1g`"
    let lower = text.lowercased()
    var digits = Substring(lower)
    var unit = ""
    while let last = digits.last, Names.isLetter(last.asciiValue ?? 0) {
      unit = String(last) + unit
      digits = digits.dropLast()
    }
    guard let number = Names.integer(digits) else {
      throw ValueError("`\(text)` is not a size; \(example)")
    }
    let multiplier: Int64
    let suffix: String
    switch unit {
    case "", "b":
      (multiplier, suffix) = (1, "")
    case "k", "kb":
      (multiplier, suffix) = (1000, "k")
    case "m", "mb":
      (multiplier, suffix) = (1_000_000, "m")
    case "g", "gb":
      (multiplier, suffix) = (1_000_000_000, "g")
    default:
      throw ValueError("`\(text)`: unknown unit `\(unit)`; \(example)")
    }
    guard number > 0 else { throw ValueError("a size must be more than 0; \(example)") }
    let (bytes, overflow) = Int64(number).multipliedReportingOverflow(by: multiplier)
    guard !overflow else { throw ValueError("`\(text)` is too large") }
    self.bytes = bytes
    self.dockerValue = "\(number)\(suffix)"
  }

  public var description: String { dockerValue }
}
