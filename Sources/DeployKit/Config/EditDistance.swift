import Foundation

/// "Did you mean …?" for unknown keys and names.
enum Suggestion {
  /// The closest candidate, if it is close enough to be what was meant.
  static func closest(to word: String, in candidates: [String]) -> String? {
    let lower = word.lowercased()
    let scored = candidates.map { ($0, distance(lower, $0.lowercased())) }
    guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
    let allowed = word.count <= 4 ? 1 : word.count <= 8 ? 2 : 3
    return best.1 <= allowed ? best.0 : nil
  }

  /// " (did you mean `x`?)" or "".
  static func hint(for word: String, in candidates: [String]) -> String {
    closest(to: word, in: candidates).map { "; did you mean `\($0)`?" } ?? ""
  }

  /// Levenshtein distance, counting `-` and `_` as the same character (`promote-from`).
  static func distance(_ a: String, _ b: String) -> Int {
    let a = Array(a.replacingOccurrences(of: "-", with: "_"))
    let b = Array(b.replacingOccurrences(of: "-", with: "_"))
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      current[0] = i
      for j in 1...b.count {
        let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
        current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
      }
      swap(&previous, &current)
    }
    return previous[b.count]
  }
}
