import Foundation
import Testing

@testable import DeployConfig
@testable import DeployKit

/// `verify.prometheus` and `notify: [{pushgateway: …}]` in plans.
@Suite struct PrometheusConfigTests {
  static let inventory = """
    environment: prod
    ssh:
      user: deploy
    hosts:
      web1:
        address: 10.0.1.11

    """

  func fixture(_ plan: String) throws -> ConfigFixture {
    try ConfigFixture(["inventories/prod.yml": Self.inventory, "playbooks/web.yml": plan], base: false)
  }

  @Test func everyKeyIsRead() throws {
    let fixture = try fixture(
      """
      app: web
      image: registry.example.com/acme/web
      verify:
        prometheus:
          url: http://prometheus.internal:9090/
          via: ssh
          interval: 10s
          duration: 1m
          queries:
            - name: error-rate
              query: sum(rate(x{app="${app}",env="${environment}",release="${release}"}[1m]))
              max: 0.01
            - {name: p95, query: "histogram_quantile(0.95, y)", min: 0, max: 0.25, failure_limit: 2}
      notify:
        - pushgateway: {url: http://pushgateway.internal:9091}
        - pushgateway: {url_secret: PUSHGATEWAY_URL}

      """)
    #expect(fixture.validate().diagnostics == [])
    let project = try fixture.load()
    let plan = try project.plan(app: "web").resolved(for: try project.inventory(named: "prod"))
    let spec = try #require(plan.hosts[0].verify?.prometheus)
    #expect(spec.url == .literal("http://prometheus.internal:9090"))
    #expect(spec.via == .ssh)
    #expect(spec.interval == .seconds(10) && spec.duration == .seconds(60) && spec.rounds == 6)
    #expect(
      spec.queries == [
        PrometheusQuerySpec(
          name: "error-rate", query: "sum(rate(x{app=\"${app}\",env=\"prod\",release=\"${release}\"}[1m]))",
          max: 0.01),
        PrometheusQuerySpec(
          name: "p95", query: "histogram_quantile(0.95, y)", max: 0.25, min: 0, failureLimit: 2),
      ])
    #expect(plan.hosts[0].verify?.checksHosts == false)
    #expect(
      plan.notify == [
        .pushgateway(.literal("http://pushgateway.internal:9091")), .pushgateway(.secret("PUSHGATEWAY_URL")),
      ])
    #expect(plan.notify.map(\.secretName) == [nil, "PUSHGATEWAY_URL"])
  }

  @Test func defaults() throws {
    let project = try fixture(
      """
      app: web
      image: registry.example.com/acme/web
      verify:
        prometheus:
          url_secret: PROM_URL
          queries: [{name: up, query: "min(up)", min: 1}]

      """
    ).load()
    let plan = try project.plan(app: "web").resolved(for: try project.inventory(named: "prod"))
    let spec = try #require(plan.hosts[0].verify?.prometheus)
    #expect(spec.url == .secret("PROM_URL"))
    #expect(spec.via == .direct && spec.interval == .seconds(30) && spec.duration == .seconds(300))
    #expect(spec.queries[0].failureLimit == 0)
  }

  @Test func everyProblemIsReportedWhereItIs() throws {
    let broken = try fixture(
      """
      app: web
      image: registry.example.com/acme/web
      verify:
        prometheus:
          url: prometheus.internal:9090
          url_secret: PROM
          interval: 1m
          duration: 30s
          queries:
            - {name: a, query: "x"}
            - {name: b, query: "x", max: lots}
            - {name: b, query: "x", min: 2, max: 1}
            - {query: "x", max: 1}
      notify:
        - pushgateway: {}

      """)
    let v = broken.validate()
    let file = broken.path("playbooks/web.yml")
    expectDiagnostic(v, file, 5, 5, "has both `url` and `url_secret`")
    expectDiagnostic(v, file, 10, 9, "`verify.prometheus.queries[0]` has no bound")
    expectDiagnostic(v, file, 11, 36, "`verify.prometheus.queries[1].max`: `lots` is not a number")
    expectDiagnostic(v, file, 12, 36, "`verify.prometheus.queries[2].min` (2) is above")
    expectDiagnostic(v, file, 13, 9, "`verify.prometheus.queries[3]` is missing required key `name`")
    expectDiagnostic(v, file, 15, 18, "needs `url: http://pushgateway.internal:9091` or `url_secret: NAME`")
    #expect(!v.isValid)
    let short = try fixture(
      """
      app: web
      image: registry.example.com/acme/web
      verify:
        prometheus:
          url: http://p:9090
          interval: 1m
          duration: 30s
          queries: [{name: a, query: "x", max: 1}]

      """)
    expectDiagnostic(
      short.validate(), short.path("playbooks/web.yml"), 7, 15, "is shorter than `verify.prometheus.interval`"
    )
  }
}
