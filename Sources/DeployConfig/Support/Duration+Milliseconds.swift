// Whole milliseconds, for the `*_ms` fields of reports and for printing; every layer times things.
extension Duration {
  public var milliseconds: Int {
    let (seconds, attoseconds) = components
    return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
  }
}
