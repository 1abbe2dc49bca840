/// How many hosts change at a time (`rollout.batch`): a number, a percentage of the
/// environment's hosts (`"25%"`), or a list of those (`[1, "50%", "100%"]`). As with Ansible's
/// `serial`, a list gives the size of the first batches in order and its last entry repeats
/// until every host is done: `[1, "50%"]` on 10 hosts is batches of 1, 5, 4.
public struct BatchPolicy: Sendable, Hashable, CustomStringConvertible {
  public enum Size: Sendable, Hashable, CustomStringConvertible {
    case hosts(Int)
    /// 1...100. Rounded down, and never less than one host.
    case percent(Int)

    public func count(of total: Int) -> Int {
      switch self {
      case .hosts(let n): max(1, n)
      case .percent(let p): max(1, total * p / 100)
      }
    }

    public var description: String {
      switch self {
      case .hosts(let n): "\(n)"
      case .percent(let p): "\(p)%"
      }
    }

    /// `3` or `25%`.
    public init(parsing text: String) throws(ValueError) {
      if text.hasSuffix("%") {
        guard let p = Names.integer(text.dropLast()), (1...100).contains(p) else {
          throw ValueError("`\(text)`: a batch percentage is from 1% to 100%")
        }
        self = .percent(p)
      } else {
        guard let n = Names.integer(Substring(text)), n >= 1 else {
          throw ValueError(
            "`\(text)`: a batch is a number of hosts (1 or more) or a percentage like `\"25%\"`")
        }
        self = .hosts(n)
      }
    }
  }

  public var sizes: [Size]

  public init(_ sizes: [Size]) {
    self.sizes = sizes.isEmpty ? [.hosts(1)] : sizes
  }

  public static let oneAtATime = BatchPolicy([.hosts(1)])

  /// The size of each batch for `hostCount` hosts; they add up to `hostCount`.
  public func batches(hostCount: Int) -> [Int] {
    var result: [Int] = []
    var remaining = hostCount
    while remaining > 0 {
      let size = sizes[min(result.count, sizes.count - 1)].count(of: hostCount)
      let batch = min(size, remaining)
      result.append(batch)
      remaining -= batch
    }
    return result
  }

  /// The hosts split into batches, in order.
  public func batches<Element>(of items: [Element]) -> [[Element]] {
    var start = 0
    return batches(hostCount: items.count).map { size in
      defer { start += size }
      return Array(items[start..<start + size])
    }
  }

  public var description: String {
    sizes.count == 1 ? sizes[0].description : "[" + sizes.map(\.description).joined(separator: ", ") + "]"
  }
}
