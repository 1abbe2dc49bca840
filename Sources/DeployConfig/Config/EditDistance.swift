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

  /// Edit distance with transpositions (`wbe` is one edit from `web`), counting `-` and `_`
  /// as the same character (`promote-from`).
  static func distance(_ a: String, _ b: String) -> Int {
    let a = Array(a.replacingOccurrences(of: "-", with: "_"))
    let b = Array(b.replacingOccurrences(of: "-", with: "_"))
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
      for j in 1...b.count {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
        if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
          d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
        }
      }
    }
    return d[a.count][b.count]
  }
}
