import DeployConfig
import Foundation

/// What `promote FROM TO` takes from FROM: the one image digest that is live and healthy on
/// every FROM host, read from the hosts themselves.
public struct PromotionSource: Codable, Sendable, Equatable {
  public var environment: String
  /// `repo@sha256:…`, when every host agrees.
  public var image: String?
  /// FROM's release id, when every host runs the same one.
  public var release: String?
  /// The tag the digest was resolved from in FROM, if any (shown, never re-resolved).
  public var tag: String?
  /// When the release went live on the last FROM host to get it.
  public var liveSince: Date?
  public var hosts: [HostStatus]
  /// Every FROM host's record says the plan's `release_command` ran for this digest (a promote
  /// does not run it again). Not in the JSON: `release_command` in the report says it.
  public var releaseCommandRan = false

  enum CodingKeys: String, CodingKey {
    case environment, image, release, tag, hosts
    case liveSince = "live_since"
  }

}

/// The gate in front of a promotion (docs/commands.md "promote"): TO accepts FROM (`promote_from`);
/// every FROM host is reachable, runs a release deployctl recorded as healthy, passes one
/// health probe now, and all run one digest; and (when asked) that digest has been live in
/// FROM for at least the minimum age. Anything else refuses with a reason per host, before
/// TO is touched.
public struct PromotionGate: Sendable {
  public var from: EnvironmentPlan
  public var to: Inventory
  /// `--min-age`; the larger of this and TO's `promote_min_age` applies.
  public var minAge: Duration?
  public var progress: ProgressLog
  public var parallel: Int?

  public init(
    from: EnvironmentPlan, to: Inventory, minAge: Duration? = nil, progress: ProgressLog, parallel: Int? = nil
  ) {
    self.from = from
    self.to = to
    self.minAge = minAge
    self.progress = progress
    self.parallel = parallel
  }

  /// The minimum time the release must have been live in FROM.
  public var requiredAge: Duration? {
    [minAge, to.promoteMinAge].compactMap { $0 }.max()
  }

  /// Checks what needs no host: FROM is not TO, and TO's `promote_from` allows FROM.
  public static func checkRoute(from: String, to: Inventory) throws(RolloutError) {
    guard from != to.environment else {
      throw .refused("promote \(from) \(to.environment): FROM and TO are the same environment")
    }
    if let allowed = to.promoteFrom, allowed != from {
      let place = to.sourceMap.location(of: "promote_from")
      throw .refused(
        "\(to.environment) accepts releases only from \(allowed) (\(place): promote_from: \(allowed)); "
          + "promote \(allowed) \(to.environment) instead")
    }
  }

  /// Reads FROM and returns the source to promote; throws `RolloutError.promotionRefused` with
  /// every host's reason when FROM does not qualify.
  public func check(now: Date = Date()) async throws(RolloutError) -> PromotionSource {
    try Self.checkRoute(from: from.environment, to: to)
    await progress.say(
      "reading \(from.environment): what runs on its \(from.hosts.count) host(s), one health probe each")
    let entries = await EnvironmentStatus(plan: from, progress: progress, parallel: parallel, auditLines: 500)
      .read()
    return try Self.judge(
      entries, environment: from.environment, requiredAge: requiredAge, now: now,
      requirement: to.promoteRequires, to: to.environment)
  }

  /// The decision, from what the hosts reported.
  static func judge(
    _ entries: [EnvironmentStatus.Entry], environment: String, requiredAge: Duration?, now: Date,
    requirement: PromoteRequirement? = nil, to: String = ""
  ) throws(RolloutError) -> PromotionSource {
    var problems: [String] = []
    if let requirement {
      // TO takes only what passed verification on every FROM host (`promote_requires`).
      problems += requirement.problems(
        from: environment, to: to,
        hosts: entries.filter(\.status.reachable).map {
          LiveVerification(host: $0.status.name, release: $0.current?.id, verified: $0.current?.verified)
        })
    }
    problems += entries.compactMap { problem(of: $0, environment: environment) }
    let records = entries.compactMap(\.current)
    let digests = Set(records.map(\.digest))
    if digests.count > 1 { problems.append(digestsDiffer(entries, environment: environment)) }
    var source = PromotionSource(
      environment: environment, image: nil, release: nil, tag: nil, liveSince: nil,
      hosts: entries.map(\.status))
    if digests.count == 1, let first = records.first, records.count == entries.count {
      source.image = first.image
      source.tag = first.tag
      let ids = Set(records.map(\.id))
      source.release = ids.count == 1 ? first.id : nil
      source.liveSince = entries.compactMap(\.liveSince).max()
      source.releaseCommandRan = records.allSatisfy { $0.releaseCommandRan == true }
      if let requiredAge, let since = source.liveSince,
        let problem = tooYoung(
          first.digest, since: since, requiredAge: requiredAge, now: now, environment: environment)
      {
        problems.append(problem)
      }
    }
    guard problems.isEmpty else {
      throw .promotionRefused(from: environment, problems: problems, source: source)
    }
    return source
  }

  /// Why one FROM host does not qualify, if it does not.
  static func problem(of entry: EnvironmentStatus.Entry, environment: String) -> String? {
    let host = entry.status
    guard host.reachable else {
      return "\(host.name): unreachable: \((host.error ?? "no answer").firstLine)"
    }
    guard host.state != "absent" else {
      return "\(host.name): no container of the app runs here"
    }
    guard let current = entry.current else {
      return "\(host.name): the container (release \(host.release ?? "none")) is not the release deployctl "
        + "recorded as current; deploy or roll back \(environment) first"
    }
    guard current.result == .deployed else {
      return "\(host.name): release \(current.id) is recorded as \(current.result.rawValue) in \(environment)"
    }
    guard host.state == "running" else {
      return "\(host.name): container is \(host.state), not running"
    }
    guard host.health == "healthy" || host.health == "none" else {
      return "\(host.name): \(host.health)" + (entry.healthProblem.map { ": \($0.firstLine)" } ?? "")
    }
    return nil
  }

  static func digestsDiffer(_ entries: [EnvironmentStatus.Entry], environment: String) -> String {
    let each = entries.compactMap { entry in
      entry.current.map {
        "\(entry.status.name) runs sha256:\($0.digest.short)" + ($0.tag.map { " (\($0))" } ?? "")
      }
    }
    return "\(environment) is not on one image digest: " + each.joined(separator: ", ")
  }

  /// Why a digest live since `since` is too young to promote, if it is.
  static func tooYoung(
    _ digest: ImageDigest, since: Date, requiredAge: Duration, now: Date, environment: String
  ) -> String? {
    let age = now.timeIntervalSince(since)
    let required = Double(requiredAge.components.seconds)
    guard age < required else { return nil }
    let wait = Duration.seconds(Int64((required - age).rounded(.up)))
    return
      "sha256:\(digest.short) has been live in \(environment) for \(Duration.seconds(Int64(max(0, age))).configText); "
      + "promotion needs \(requiredAge.configText) (try again in \(wait.configText))"
  }
}
