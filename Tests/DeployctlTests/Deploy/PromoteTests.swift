import DeployEngine
import DeployKit
import Foundation
import Testing

/// promote and history end to end: the real binary against the testbed's hosts. The testbed's
/// inventories chain dev → staging → prod (`promote_from`); staging has one host, prod two.
@Suite("Promote and history end to end", .enabled(if: Testbed.isAvailable))
struct PromoteTests {
  @Test("promote staging prod: prod gets staging's digest, recorded as promoted from staging")
  func promoteShipsTheVerifiedDigest() async throws {
    try await Scenario.with { s in
      let candidate = "\(s.app)-rc"
      try await s.testbed.tag("v1", as: candidate)
      let staged = try await s.deployctl(["deploy", "staging", "--image", candidate])
      #expect(staged.status == 0, "\(staged.stderr)")
      let stagingRelease = try #require(try staged.report.release?.id)
      let stagingImage = try #require(try staged.report.release?.image)
      // The tag moves on after staging got it: promote must take the digest, not the tag.
      try await s.testbed.tag("v2", as: candidate)

      let promoted = try await s.deployctl(["promote", "staging", "prod"])
      #expect(promoted.status == 0, "\(promoted.stderr)")
      #expect(try promoted.report.command == "promote")
      #expect(try promoted.report.promotedFrom == "staging")
      #expect(try promoted.report.release?.image == stagingImage)
      let source = try #require(try promoted.report.source)
      #expect(source.release == stagingRelease)
      #expect(source.image == stagingImage)
      let prodRelease = try #require(try promoted.report.release?.id)
      for host in s.hosts("prod") {
        #expect(try await s.version(on: host) == "v1")
        let record = try await s.testbed.sshChecked(
          host, "cat /var/lib/deployctl/\(s.app)/releases/prod/\(prodRelease).json")
        #expect(record.contains("\"kind\":\"promote\""), "\(record)")
        #expect(record.contains("\"from\":\"staging\""))
        #expect(record.contains("\"release\":\"\(stagingRelease)\""))
        #expect(record.contains(stagingImage))
      }

      let history = try await s.deployctl(["history", "prod"])
      #expect(history.status == 0, "\(history.stderr)")
      let first = try #require(try history.document(HistoryReport.self).releases.first)
      #expect(first.how == "promote")
      #expect(first.from == "staging")
      #expect(first.release == prodRelease)
      #expect(first.result == "succeeded")
      #expect(first.live)
      #expect(first.hosts.count == 2)
    }
  }

  @Test("FROM on two digests: refused with each host's digest, exit 2, TO untouched")
  func mixedSourceIsRefused() async throws {
    try await Scenario.with { s in
      // prod (two hosts) is the source here, so staging must accept it.
      try s.edit("inventories/staging.yml", replacing: "promote_from: dev", with: "promote_from: prod")
      try s.edit("inventories/prod.yml", replacing: "promote_from: staging", with: "")
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v1"]).status == 0)
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v2", "--limit", "prod-1"]).status == 0)
      let refused = try await s.deployctl(["promote", "prod", "staging"])
      #expect(refused.status == 2, "\(refused.stderr)")
      #expect(try refused.report.result == .refused)
      let error = try refused.report.error ?? ""
      #expect(error.contains("not on one image digest"), "\(error)")
      #expect(error.contains("prod-1 runs sha256:") && error.contains("prod-2 runs sha256:"))
      #expect(try refused.report.source?.hosts.count == 2)
      for host in s.hosts("staging") {
        #expect(try await s.version(on: host) == "", "staging must not have been touched")
      }
    }
  }

  @Test("an unhealthy FROM host: refused naming it, exit 2, TO keeps its release")
  func unhealthySourceIsRefused() async throws {
    try await Scenario.with { s in
      #expect(try await s.deployctl(["deploy", "staging", "--image", "v1"]).status == 0)
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v2"]).status == 0)
      let staging = try #require(s.hosts("staging").first)
      try await s.testbed.sshChecked(staging, "docker exec \(s.app) rm /www/healthz")
      let refused = try await s.deployctl(["promote", "staging", "prod"])
      #expect(refused.status == 2, "\(refused.stderr)")
      let error = try refused.report.error ?? ""
      #expect(error.contains("\(staging.name): unhealthy"), "\(error)")
      for host in s.hosts("prod") { #expect(try await s.version(on: host) == "v2") }
    }
  }

  @Test("promote_from violated: refused before any host is read, with the inventory's place")
  func promoteFromIsEnforced() async throws {
    try await Scenario.with { s in
      #expect(try await s.deployctl(["deploy", "dev", "--image", "v1"]).status == 0)
      let refused = try await s.deployctl(["promote", "dev", "prod"])
      #expect(refused.status == 2)
      let error = try refused.report.error ?? ""
      #expect(error.contains("prod accepts releases only from staging"), "\(error)")
      #expect(error.contains("prod.yml:"), "the message points at promote_from: \(error)")
      #expect(!refused.stderr.contains("reading dev"), "no host should have been read")
      for host in s.hosts("prod") { #expect(try await s.version(on: host) == "") }
    }
  }

  @Test("a release younger than --min-age or promote_min_age is refused with the time left")
  func minimumAgeIsEnforced() async throws {
    try await Scenario.with { s in
      #expect(try await s.deployctl(["deploy", "staging", "--image", "v1"]).status == 0)
      // The release was recorded before the deploy returned: 1.5 s from here it is older than 1 s.
      let olderThanOneSecond = ContinuousClock.now + .seconds(1.5)
      let young = try await s.deployctl(["promote", "staging", "prod", "--min-age", "1h"])
      #expect(young.status == 2, "\(young.stderr)")
      #expect(try (young.report.error ?? "").contains("promotion needs 1h"), "\(young.stdout)")
      try s.edit(
        "inventories/prod.yml", replacing: "promote_from: staging",
        with: "promote_from: staging\npromote_min_age: 2h")
      let byInventory = try await s.deployctl(["promote", "staging", "prod", "--min-age", "1s"])
      #expect(byInventory.status == 2)
      #expect(try (byInventory.report.error ?? "").contains("promotion needs 2h"))
      try s.edit("inventories/prod.yml", replacing: "promote_min_age: 2h", with: "promote_min_age: 1s")
      // Only what is left of the 1.5 s (the two runs above took most of it, or all).
      try await Task.sleep(until: olderThanOneSecond)
      let old = try await s.deployctl(["promote", "staging", "prod"])
      #expect(old.status == 0, "\(old.stderr)")
    }
  }

  @Test("TO fails its health check after promote: TO back on its previous release, exit 1")
  func failedPromotionRollsBack() async throws {
    try await Scenario.with { s in
      #expect(try await s.deployctl(["deploy", "staging", "--image", "v1"]).status == 0)
      #expect(try await s.deployctl(["deploy", "prod", "--image", "v2"]).status == 0)
      // prod's own settings make the app listen on another port than the published one, so
      // the promoted release fails there (the previous one keeps its recorded settings).
      try s.appendToPlan("environments:\n  prod:\n    container:\n      env: {PORT: \"9999\"}\n")
      let failed = try await s.deployctl(["promote", "staging", "prod"])
      #expect(failed.status == 1, "\(failed.stderr)")
      #expect(try failed.report.result == .failed)
      #expect(try failed.hosts.contains { $0.result == .rolledBack })
      for host in s.hosts("prod") { #expect(try await s.version(on: host) == "v2") }
      let history = try await s.deployctl(["history", "prod"])
      let first = try #require(try history.document(HistoryReport.self).releases.first)
      #expect(first.how == "promote")
      #expect(first.result == "rolled_back")
      #expect(!first.live)
    }
  }

  @Test("history: every run newest first with tag, who, how and result, from the hosts' records")
  func historyListsRunsNewestFirst() async throws {
    try await Scenario.with { s in
      #expect(try await s.deployctl(["deploy", "staging", "--image", "v1"]).status == 0)
      #expect(try await s.deployctl(["deploy", "staging", "--image", "v2"]).status == 0)
      #expect(try await s.deployctl(["deploy", "staging", "--image", "broken"]).status == 1)
      #expect(try await s.deployctl(["rollback", "staging"]).status == 0)
      let history = try await s.deployctl(["history", "staging"], environment: ["USER": "alice"])
      #expect(history.status == 0, "\(history.stderr)")
      let releases = try history.document(HistoryReport.self).releases
      let rows = releases.map { "\($0.how) \($0.tag ?? "-") \($0.result)" }
      #expect(
        rows == [
          "rollback v1 succeeded", "deploy broken rolled_back", "deploy v2 succeeded", "deploy v1 succeeded",
        ], "\(rows)")
      #expect(releases.first?.live == true)
      #expect(releases.filter(\.live).count == 1)
      #expect(releases.allSatisfy { ($0.digest ?? "").hasPrefix("sha256:") })
      #expect(releases.allSatisfy { !$0.user.isEmpty })
      #expect(releases.count == 4 && releases[0].release == releases[3].release)

      let text = try await s.deployctl(["history", "staging"], json: false)
      #expect(text.status == 0)
      #expect(text.stdout.contains("RELEASE"))
      #expect(text.stdout.contains("rollback"))
      #expect(text.stdout.contains("(live)"))
    }
  }
}

extension Testbed {
  /// Points tag `new` of the test image at what tag `existing` names, in the testbed's
  /// registry (its HTTP API: the manifest read under one tag is put under the other).
  func tag(_ existing: String, as new: String) async throws {
    let slash = try #require(image.firstIndex(of: "/"))
    let registry = String(image[..<slash])
    let repository = String(image[image.index(after: slash)...])
    let script = """
      set -e
      dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
      accept='application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.manifest.v1+json'
      type=$(curl -fsS -H "Accept: $accept" -o "$dir/m" -w '%{content_type}' "http://$1/v2/$2/manifests/$3")
      curl -fsS -X PUT -H "Content-Type: $type" --data-binary @"$dir/m" "http://$1/v2/$2/manifests/$4"
      """
    let result = try await Testbed.run("/bin/sh", ["-c", script, "tag", registry, repository, existing, new])
    #expect(result.status == 0, "tagging \(existing) as \(new): \(result.stderr)")
  }
}

extension Scenario {
  /// Replaces text in one of the scenario's files (e.g. `inventories/staging.yml`).
  func edit(_ file: String, replacing old: String, with new: String) throws {
    let path = dir.appendingPathComponent(file).path
    let text = try String(contentsOfFile: path, encoding: .utf8)
    #expect(text.contains(old), "\(file) has no `\(old)`")
    try text.replacingOccurrences(of: old, with: new).write(toFile: path, atomically: true, encoding: .utf8)
  }

  /// Adds YAML at the end of the scenario's deploy plan.
  func appendToPlan(_ yaml: String) throws {
    let path = playbooks + "/\(app).yml"
    let text = try String(contentsOfFile: path, encoding: .utf8)
    try (text + yaml).write(toFile: path, atomically: true, encoding: .utf8)
  }
}
