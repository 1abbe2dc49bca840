import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine

/// Stop requests as a stream, and the one signal path behind them.
@Suite struct StopRequestTests {
  @Test("a request reaches a stream asked for before it, once, and the stream ends")
  func streamHearsALaterRequest() async {
    let stop = StopRequest()
    let stream = stop.requests()
    let heard = Task {
      var all: [String] = []
      for await reason in stream { all.append(reason) }
      return all
    }
    stop.request("SIGTERM")
    stop.request("SIGINT")
    #expect(await heard.value == ["SIGTERM"])
    #expect(stop.requested == "SIGTERM")
  }

  @Test("a stream asked for after the request hears it at once")
  func streamHearsAnEarlierRequest() async {
    let stop = StopRequest()
    stop.request("SIGINT")
    var all: [String] = []
    for await reason in stop.requests() { all.append(reason) }
    #expect(all == ["SIGINT"])
  }

  @Test("a cancelled listener ends without a request")
  func cancelledListener() async {
    let stop = StopRequest()
    let listener = Task {
      for await reason in stop.requests() { return reason }
      return "none"
    }
    listener.cancel()
    #expect(await listener.value == "none")
  }

  @Test("wait(until:) sleeps to its deadline when nothing asks to stop")
  func waitToTheDeadline() async {
    let stop = StopRequest()
    let clock = ContinuousClock()
    let start = clock.now
    #expect(await stop.wait(until: start + .milliseconds(50)) == nil)
    #expect(clock.now - start >= .milliseconds(50))
  }

  @Test("wait(until:) ends at once on a request, with its reason")
  func waitEndsOnRequest() async {
    let stop = StopRequest()
    let clock = ContinuousClock()
    let start = clock.now
    Task {
      try await Task.sleep(for: .milliseconds(20))
      stop.request("SIGINT")
    }
    #expect(await stop.wait(until: start + .seconds(30)) == "SIGINT")
    // Well before the deadline (a loaded machine may hold the task a few seconds).
    #expect(clock.now - start < .seconds(25))
  }

  @Test("a signal reaches the handler by name, and does not end the process")
  func signalsByName() async throws {
    let heard = Locked<[String]>([])
    let signals = Signals([(SIGUSR2, "SIGUSR2")]) { name in heard.withLock { $0.append(name) } }
    await signals.ready()
    kill(getpid(), SIGUSR2)
    let clock = ContinuousClock()
    let deadline = clock.now + .seconds(10)
    while heard.current.isEmpty, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
    #expect(heard.current == ["SIGUSR2"])
    signals.cancel()
  }
}
