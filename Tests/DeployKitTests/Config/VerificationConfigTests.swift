import Foundation
import Testing

@testable import DeployConfig
@testable import DeployKit

/// `verify:`, `hooks:`, `notify:` in plans and `promote_requires:` in inventories.
@Suite struct VerificationConfigTests {
  static let plan = """
    app: web
    image: registry.example.com/acme/web
    container:
      ports: ["8080:8080"]
    verify:
      via: direct
      smoke:
        - {port: 8080, path: /version, expect: 200, contains: "ok"}
        - {port: 9090, path: "${CHECK}"}
      load:
        port: 8080
        path: /
        requests: 2000
        concurrency: 20
        max_error_rate: 1%
        p95: 250ms
    hooks:
      pre_deploy: ["./hooks/check-migrations", "${environment}"]
      post_deploy: ["./hooks/announce"]
      timeout: 30s
    notify:
      - slack: {webhook_secret: SLACK_WEBHOOK_URL}
      - webhook: {url_secret: DEPLOY_WEBHOOK_URL}
    environments:
      prod:
        verify:
          load: {requests: 5000, p95: 100ms}
        hooks:
          post_deploy: ~
        notify:
          - slack: {webhook_secret: PROD_SLACK}

    """

  static let devInventory = """
    environment: dev
    ssh:
      user: deploy
    hosts:
      dev-1:
        address: 192.168.250.11
        vars: {CHECK: /dev-check}

    """

  static let prodInventory = """
    environment: prod
    promote_from: dev
    promote_requires: verified
    ssh:
      user: deploy
    hosts:
      web1:
        address: 10.0.1.11
        vars: {CHECK: /prod-check}

    """

  func fixture(plan: String = plan, prod: String = prodInventory) throws -> ConfigFixture {
    try ConfigFixture(
      [
        "inventories/dev.yml": Self.devInventory, "inventories/prod.yml": prod, "playbooks/web.yml": plan,
      ], base: false)
  }

  @Test func everyKeyIsRead() throws {
    let fixture = try fixture()
    #expect(fixture.validate().diagnostics == [])
    let project = try fixture.load()
    let dev = try project.inventory(named: "dev")
    let plan = try project.plan(app: "web").resolved(for: dev)
    let verify = try #require(plan.hosts[0].verify)
    #expect(verify.via == .direct)
    #expect(
      verify.smoke == [
        SmokeCheckSpec(port: 8080, path: "/version", expectStatus: 200, bodyContains: "ok"),
        SmokeCheckSpec(port: 9090, path: "/dev-check"),
      ])
    #expect(
      verify.load
        == LoadTestSpec(
          port: 8080, path: "/", requests: 2000, concurrency: 20, maxErrorRate: 0.01, p95: .milliseconds(250))
    )
    #expect(verify.ports == [8080, 9090])
    #expect(plan.hooks.preDeploy == ["./hooks/check-migrations", "dev"])
    #expect(plan.hooks.postDeploy == ["./hooks/announce"])
    #expect(plan.hooks.onFailure == nil)
    #expect(plan.hooks.timeout == .seconds(30))
    #expect(
      plan.notify == [.slack(webhookSecret: "SLACK_WEBHOOK_URL"), .webhook(urlSecret: "DEPLOY_WEBHOOK_URL")])
    #expect(dev.promoteRequires == nil)
    #expect(try project.inventory(named: "prod").promoteRequires == .verified)
  }

  @Test func environmentsOverrideTheNewKeys() throws {
    let project = try fixture().load()
    let prod = try project.inventory(named: "prod")
    let plan = try project.plan(app: "web").resolved(for: prod)
    let verify = try #require(plan.hosts[0].verify)
    #expect(verify.load?.requests == 5000)
    #expect(verify.load?.p95 == .milliseconds(100))
    #expect(verify.load?.concurrency == 20)  // merged, not replaced
    #expect(verify.smoke[1].path == "/prod-check")  // the host's own var
    #expect(plan.hooks.postDeploy == nil)
    #expect(plan.hooks.preDeploy == ["./hooks/check-migrations", "prod"])
    #expect(plan.notify == [.slack(webhookSecret: "PROD_SLACK")])
  }

  @Test func defaultsWithoutTheKeys() throws {
    let project = try ConfigFixture().load()
    let dev = try project.inventory(named: "dev")
    let plan = try project.plan(app: nil).resolved(for: dev)
    #expect(plan.hosts[0].verify == nil)
    #expect(plan.hooks == HooksSpec())
    #expect(plan.hooks.timeout == .seconds(300))
    #expect(plan.notify == [])
    let load = try fixture(
      plan: "app: web\nimage: registry.example.com/acme/web\nverify:\n  load: {port: 8080}\n"
    ).load().plan(app: "web").resolved(for: dev).hosts[0].verify?.load
    #expect(load == LoadTestSpec(port: 8080, path: "/", requests: 1000, concurrency: 10, maxErrorRate: 0.01))
    #expect(
      try fixture(plan: "app: web\nimage: registry.example.com/acme/web\nverify:\n  load: {port: 8080}\n")
        .load().plan(app: "web").resolved(for: dev).hosts[0].verify?.via == .ssh)
  }

  @Test func badValuesAreReportedAtTheirPlace() throws {
    let fixture = try fixture(
      plan: """
        app: web
        image: registry.example.com/acme/web
        verify:
          via: tunnel
          smoke:
            - {port: 8080, path: version, expect: 700}
            - {path: /x}
          load:
            port: 8080
            requests: "100"
            concurrency: 0
            max_error_rate: 1
            p95: 250
            p99: 1s
        hooks:
          pre_deploy: ./hooks/check
          post_deploy: []
          on_fail: ["x"]
          timeout: 5
        notify:
          - slack: {url_secret: X}
          - webhook: {url_secret: "bad name"}
          - email: {to: ops}
          - {slack: {webhook_secret: A}, webhook: {url_secret: B}}

        """)
    let v = fixture.validate()
    let file = fixture.path("playbooks/web.yml")
    expectDiagnostic(v, file, 4, 8, "`verify.via`: `tunnel` is not a way to check")
    expectDiagnostic(v, file, 6, 26, "`verify.smoke[0].path` must start with `/`")
    expectDiagnostic(v, file, 6, 43, "`verify.smoke[0].expect` must be an HTTP status (100-599), found 700")
    expectDiagnostic(v, file, 7, 7, "`verify.smoke[1]` is missing required key `port`")
    expectDiagnostic(
      v, file, 10, 15,
      "`verify.load.requests` must be a number of requests (1-10000000), found the string \"100\"")
    expectDiagnostic(
      v, file, 11, 18, "`verify.load.concurrency` must be a number of requests in flight (1-1000)")
    expectDiagnostic(v, file, 12, 21, "`verify.load.max_error_rate`: `1` is not a percentage")
    expectDiagnostic(v, file, 13, 10, "`verify.load.p95`: `250` has no unit")
    expectDiagnostic(v, file, 14, 5, "unknown key `p99` in `verify.load`")
    expectDiagnostic(
      v, file, 16, 15, "`hooks.pre_deploy` must be a command as a list of arguments (no shell)")
    expectDiagnostic(v, file, 17, 16, "`hooks.post_deploy` is an empty command")
    expectDiagnostic(
      v, file, 18, 3,
      "unknown key `on_fail` in `hooks`; known keys: pre_deploy, post_deploy, on_failure, timeout")
    expectDiagnostic(v, file, 19, 12, "`hooks.timeout`: `5` has no unit")
    expectDiagnostic(v, file, 21, 12, "`notify[0].slack` is missing required key `webhook_secret`")
    expectDiagnostic(v, file, 21, 13, "unknown key `url_secret` in `notify[0].slack`")
    expectDiagnostic(v, file, 22, 27, "`notify[1].webhook.url_secret`")
    expectDiagnostic(v, file, 23, 5, "unknown key `email` in `notify[2]`")
    expectDiagnostic(v, file, 24, 5, "`notify[3]` has both `slack` and `webhook`; make them two entries")
    #expect(!v.isValid)
  }

  @Test func hooksAndNotifyTakeOnlyTheEnvironment() throws {
    let fixture = try fixture(
      plan: """
        app: web
        image: registry.example.com/acme/web
        hooks:
          pre_deploy: ["./check", "${CHECK}"]

        """)
    let v = fixture.validate()
    expectDiagnostic(
      v, fixture.path("playbooks/web.yml"), 4, 28,
      "`${CHECK}` is a host variable, but `hooks` is the same on every host")
  }

  @Test func emptyVerifyAndBadPromoteRequirement() throws {
    let fixture = try fixture(
      plan: "app: web\nimage: registry.example.com/acme/web\nverify: {via: ssh}\n",
      prod: Self.prodInventory.replacingOccurrences(
        of: "promote_requires: verified", with: "promote_requires: healthy"))
    let v = fixture.validate()
    expectDiagnostic(v, fixture.path("playbooks/web.yml"), 3, 9, "`verify` has nothing to check")
    expectDiagnostic(
      v, fixture.path("inventories/prod.yml"), 3, 19,
      "`promote_requires`: `healthy` is not a promotion requirement; the one there is: `verified`")
  }
}
