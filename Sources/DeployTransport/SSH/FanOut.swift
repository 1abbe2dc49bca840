/// What one host's operation came to: its value or its error, as a value.
public struct HostOutcome<Value: Sendable>: Sendable {
  public var host: String
  public var result: Result<Value, any Error>
  public var duration: Duration

  public init(host: String, result: Result<Value, any Error>, duration: Duration) {
    self.host = host
    self.result = result
    self.duration = duration
  }

  /// The value, nil on failure (`error` and `result` keep the failure).
  public var value: Value? { try? result.get() }

  public var error: (any Error)? {
    if case .failure(let error) = result { return error }
    return nil
  }
}

/// Runs one operation per host, at most `parallel` at a time, in a task group. A host's failure
/// is its outcome and never cancels the others; cancelling the caller (SIGINT) cancels every
/// running operation, and hosts not started yet come back as `CancellationError`.
public enum FanOut {
  public static func run<Item: Sendable, Value: Sendable>(
    _ items: [Item], parallel: Int, name: @Sendable (Item) -> String,
    _ operation: @escaping @Sendable (Item) async throws -> Value
  ) async -> [HostOutcome<Value>] {
    var outcomes = [HostOutcome<Value>?](repeating: nil, count: items.count)
    await withTaskGroup(of: (Int, HostOutcome<Value>).self) { group in
      var next = 0
      func startNext() {
        guard next < items.count else { return }
        let index = next
        let item = items[index]
        let host = name(item)
        next += 1
        group.addTask {
          let clock = ContinuousClock()
          let start = clock.now
          let result: Result<Value, any Error>
          do {
            try Task.checkCancellation()
            result = .success(try await operation(item))
          } catch {
            result = .failure(error)
          }
          return (index, HostOutcome(host: host, result: result, duration: clock.now - start))
        }
      }
      for _ in 0..<max(1, parallel) { startNext() }
      for await (index, outcome) in group {
        outcomes[index] = outcome
        startNext()
      }
    }
    return outcomes.enumerated().map { index, outcome in
      outcome ?? HostOutcome(host: name(items[index]), result: .failure(CancellationError()), duration: .zero)
    }
  }
}
