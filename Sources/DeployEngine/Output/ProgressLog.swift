import Foundation

/// Live progress of a command across hosts: one line per host step, with a timestamp and the
/// step's elapsed time. Shared by every host task, so it is an actor.
public actor ProgressLog {
  private let terminal: Terminal
  private let masker: SecretMasker
  private let clock = ContinuousClock()
  private let start: ContinuousClock.Instant

  public init(terminal: Terminal, masker: SecretMasker = SecretMasker()) {
    self.terminal = terminal
    self.masker = masker
    self.start = clock.now
  }

  public enum Status: Sendable {
    case started
    case done(Duration)
    case failed(Duration, String)
    case note(String)
  }

  public func host(_ host: String, _ step: String, _ status: Status) {
    var text = "\(Self.timestamp()) \(terminal.paint(host, .bold)) \(step)"
    switch status {
    case .started:
      text += " …"
    case .done(let elapsed):
      text += " " + terminal.paint("ok", .green) + " " + terminal.paint(Self.format(elapsed), .dim)
    case .failed(let elapsed, let message):
      text += " " + terminal.paint("failed", .red) + " " + terminal.paint(Self.format(elapsed), .dim)
      text += ": " + message
    case .note(let message):
      text += ": " + message
    }
    terminal.line(masker.mask(text))
  }

  /// A line that concerns the whole command, not one host.
  public func say(_ message: String) {
    terminal.line("\(Self.timestamp()) \(masker.mask(message))")
  }

  public func elapsed() -> Duration { clock.now - start }

  static func timestamp(_ date: Date = Date()) -> String {
    // Not ISO8601DateFormatter: making one per line cost more CPU than the rest of a rollout.
    HostStateJSON.format(date)
  }

  public static func format(_ duration: Duration) -> String {
    let ms = duration.milliseconds
    if ms < 1000 { return "\(ms)ms" }
    return String(format: "%.2fs", Double(ms) / 1000)
  }
}

/// Replaces secret values with `***` in anything we print, in case a value reaches output by
/// way of an error message or a container's log.
public struct SecretMasker: Sendable {
  private let secrets: [String]

  public init(secrets: some Sequence<String> = []) {
    // Longest first, so a secret that contains another is masked whole. Very short values
    // would mask ordinary text; they are still never written by us, only not searched for.
    self.secrets = secrets.filter { $0.count >= 3 }.sorted { $0.count > $1.count }
  }

  public func mask(_ text: String) -> String {
    var masked = text
    for secret in secrets where masked.contains(secret) {
      masked = masked.replacingOccurrences(of: secret, with: "***")
    }
    return masked
  }
}
