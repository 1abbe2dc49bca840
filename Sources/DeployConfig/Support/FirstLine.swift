extension String {
  /// The first line that is not empty: an error's headline for a one-line summary.
  public var firstLine: String {
    split(separator: "\n").first.map(String.init) ?? ""
  }
}
