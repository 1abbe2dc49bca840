/// How an unknown host key is treated (inventory `ssh.host_key_policy`). There is deliberately
/// no "accept anything": a changed key is always refused.
public enum HostKeyPolicy: String, Sendable, CaseIterable {
  /// Refuse unknown and changed keys.
  case strict
  /// Record an unknown key in known_hosts; still refuse a changed one.
  case acceptNew = "accept-new"
}
