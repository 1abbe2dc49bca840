import DeployKit
import Foundation
import Testing

/// `registry:` end to end: the testbed's htpasswd registry (:5001, the same storage as :5000)
/// serves the test image only to a client that logged in. No host has ever logged in to it, so a
/// pull there works only with the credentials deployctl brings.
@Suite("Private registry end to end", .enabled(if: Testbed.isAvailable))
struct PrivateRegistryTests {
  func password(_ testbed: Testbed) throws -> String {
    try String(contentsOfFile: testbed.authPasswordFile, encoding: .utf8)
      .trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// The scenario's plan, pulling from the private registry, with or without `registry:`.
  func writePlan(_ s: Scenario, credentials: Bool) throws {
    let registry =
      credentials
      ? """
      registry:
        username: \(s.testbed.authUser)
        password_secret: DEPLOYCTL_TEST_REGISTRY_TOKEN

      """ : ""
    let plan = """
      app: \(s.app)
      image: \(s.testbed.authRegistry)/app
      container:
        ports: ["\(s.port):8080"]
        stop_timeout: 5s
      health:
        http: {port: \(s.port), path: /healthz, expect: 200}
        interval: 300ms
        retries: 6
      rollout:
        batch: "100%"
      \(registry)
      """
    try plan.write(toFile: s.playbooks + "/\(s.app).yml", atomically: true, encoding: .utf8)
  }

  @Test(
    "a deploy from a private registry logs in with a throwaway config: no credential is left on the hosts")
  func privateDeploy() async throws {
    try await Scenario.with { s in
      let secret = try password(s.testbed)
      let hosts = s.hosts("staging")

      // Without credentials the hosts cannot pull: they were never logged in.
      try writePlan(s, credentials: false)
      let refused = try await s.deployctl(["deploy", "staging", "--image", "v1"])
      #expect(refused.status == 1, "\(refused.stderr)")
      #expect(refused.stderr.contains("no basic auth credentials") || refused.stderr.contains("unauthorized"))

      try writePlan(s, credentials: true)
      let deploy = try await s.deployctl(
        ["deploy", "staging", "--image", "v1"], environment: ["DEPLOYCTL_TEST_REGISTRY_TOKEN": secret])
      #expect(deploy.status == 0, "\(deploy.stderr)")
      for host in hosts { #expect(try await s.version(on: host) == "v1") }
      #expect(!deploy.stdout.contains(secret) && !deploy.stderr.contains(secret))

      // Nothing on the hosts holds the credential: no Docker config anywhere on the file system
      // (the hosts share it, apart from their own /var/lib/deployctl and /srv, searched too), and
      // no leftover throwaway config.
      let auth = Data("\(s.testbed.authUser):\(secret)".utf8).base64EncodedString()
      let search = try await Testbed.run(
        "/bin/sh",
        [
          "-c",
          "find / \\( -path /proc -o -path /sys -o -path /dev -o -path /run/user \\) -prune -o "
            + "-name config.json -type f -print 2>/dev/null | xargs -r grep -l -e \"$1\" -e \"$2\" 2>/dev/null; true",
          "sh", auth, secret,
        ], timeout: 300)
      #expect(search.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "", "\(search.stdout)")
      for host in hosts {
        let left = try await s.testbed.sshChecked(
          host,
          "grep -rl -e '\(auth)' /var/lib/deployctl /srv $HOME /tmp 2>/dev/null; "
            + "ls -d /var/lib/deployctl/\(s.app)/.docker-config.* 2>/dev/null; true")
        #expect(left.trimmingCharacters(in: .whitespacesAndNewlines) == "", "\(left)")
        #expect(
          try await s.testbed.sshChecked(host, "cat ~/.docker/config.json 2>/dev/null; true")
            .contains(auth) == false)
      }
    }
  }

  @Test("a wrong password: exit 1 before any container changes, with the registry's own message")
  func wrongPassword() async throws {
    try await Scenario.with { s in
      let secret = try password(s.testbed)
      try writePlan(s, credentials: true)
      let first = try await s.deployctl(
        ["deploy", "staging", "--image", "v1"], environment: ["DEPLOYCTL_TEST_REGISTRY_TOKEN": secret])
      #expect(first.status == 0, "\(first.stderr)")
      let host = s.hosts("staging")[0]
      let started = try await s.testbed.sshChecked(
        host, "docker inspect --format '{{.State.StartedAt}}' \(s.app)")

      let wrong = try await s.deployctl(
        ["deploy", "staging", "--image", "v2"],
        environment: ["DEPLOYCTL_TEST_REGISTRY_TOKEN": "not-the-password"])
      #expect(wrong.status == 1, "\(wrong.stderr)")
      #expect(wrong.stderr.contains("unauthorized") || wrong.stderr.contains("401"), "\(wrong.stderr)")
      #expect(try wrong.host(host.name)?.result == .failed)
      #expect(try await s.version(on: host) == "v1")
      let after = try await s.testbed.sshChecked(
        host, "docker inspect --format '{{.State.StartedAt}}' \(s.app)")
      #expect(after == started, "the running container was not touched")

      // An unset password secret is refused before any host is contacted, like any missing secret.
      let unset = try await s.deployctl(["deploy", "staging", "--image", "v2"])
      #expect(unset.status == 2, "\(unset.stderr)")
      #expect(unset.stderr.contains("DEPLOYCTL_TEST_REGISTRY_TOKEN"))

      // A rollback never needs the registry: it works without the secret.
      let v2 = try await s.deployctl(
        ["deploy", "staging", "--image", "v2"], environment: ["DEPLOYCTL_TEST_REGISTRY_TOKEN": secret])
      #expect(v2.status == 0, "\(v2.stderr)")
      let back = try await s.deployctl(["rollback", "staging"])
      #expect(back.status == 0, "\(back.stderr)")
      #expect(try await s.version(on: host) == "v1")
    }
  }
}
