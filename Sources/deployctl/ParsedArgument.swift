import ArgumentParser
import DeployConfig
import DeployKit

/// An option's value read by one of the library's parsers, so the library gets a typed value
/// (a `Duration`, a rate, a URL). A value the parser refuses is a bad argument (exit 2) whose
/// message says why: `The value '10' is invalid for '--timeout <duration>': `10` has no unit;
/// write a number and a unit: …`. (`ExpressibleByArgument`'s failable `init?(argument:)` could
/// only say that the value is invalid.)
func parsed<Value>(_ parse: @escaping @Sendable (String) throws(ValueError) -> Value)
  -> @Sendable (String) throws -> Value
{
  { text in
    do throws(ValueError) {
      return try parse(text)
    } catch {
      throw ValidationError(error.message)
    }
  }
}

extension Duration {
  /// `--timeout 30s`, `--min-age 2h`, `--lock-wait 10m`, `--p95 250ms`: the plan's syntax.
  static let argument = parsed { text throws(ValueError) in try Duration(parsing: text) }
}
