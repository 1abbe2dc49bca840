import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine

/// The bake window's pieces that need no server: Prometheus's answers, the verdict of one
/// measurement, the substitution, and the Pushgateway's text.
@Suite struct PrometheusAnalysisTests {
  @Test func answersAreRead() throws {
    let vector =
      #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1.5,"0.25"]}]}}"#
    #expect(try PrometheusAnswer.parse(Data(vector.utf8)) == .values([0.25]))
    let empty = #"{"status":"success","data":{"resultType":"vector","result":[]}}"#
    #expect(try PrometheusAnswer.parse(Data(empty.utf8)) == .values([]))
    let scalar = #"{"status":"success","data":{"resultType":"scalar","result":[1.5,"+Inf"]}}"#
    #expect(try PrometheusAnswer.parse(Data(scalar.utf8)) == .values([.infinity]))
    let error =
      #"{"status":"error","errorType":"bad_data","error":"1:15: parse error: unclosed left parenthesis"}"#
    #expect(
      try PrometheusAnswer.parse(Data(error.utf8))
        == .error(type: "bad_data", message: "1:15: parse error: unclosed left parenthesis"))
    #expect(throws: (any Error).self) { try PrometheusAnswer.parse(Data("<html>".utf8)) }
  }

  @Test func boundsJudgeAMeasurement() {
    let analysis = PrometheusAnalysis(
      spec: PrometheusSpec(url: .literal("http://p")), url: "http://p", variables: [:], stop: StopRequest())
    var query = PrometheusQueryResult(
      spec: PrometheusQuerySpec(name: "q", query: "x", max: 0.01, min: 0.001, failureLimit: 1), query: "x")
    let now = Date()
    #expect(analysis.judge(0.005, at: now, query).passed)
    #expect(analysis.judge(0.5, at: now, query).error == "value 0.5 above max 0.01")
    #expect(analysis.judge(0, at: now, query).error == "value 0 below min 0.001")
    query.record(analysis.judge(0.5, at: now, query))
    #expect(query.passed && query.failures == 1)
    query.record(analysis.judge(0.5, at: now, query))
    #expect(!query.passed && query.failures == 2)
    #expect(query.summary.contains("2 of 2 measurements failed (failure_limit 1)"))
  }

  @Test func variablesAreFilledIn() {
    #expect(
      PrometheusAnalysis.substitute(
        #"rate(x{app="${app}",env="${environment}",r="${release}",o="${other}"}[1m])"#,
        ["app": "web", "environment": "prod", "release": "20261204-1"])
        == #"rate(x{app="web",env="prod",r="20261204-1",o="${other}"}[1m])"#)
  }

  @Test func aSecretURLIsNeverShown() {
    #expect(PrometheusAnalysis.shown(.secret("PROM_URL"), "http://user:pw@p") == "(the URL in PROM_URL)")
    #expect(PrometheusAnalysis.shown(.literal("http://p:9090"), "http://p:9090") == "http://p:9090")
  }

  @Test func pushgatewayMetrics() {
    var message = NotificationMessage(
      command: "deploy", environment: "prod", app: "web", release: "r1", tag: "v2", image: nil,
      result: "success",
      hostsDone: ["a", "b"], hostsFailed: [], user: "u", durationMs: 12_345)
    message.hostResults = ["deployed": 2]
    let text = PushgatewayPush.metrics(message, at: Date(timeIntervalSince1970: 1_700_000_000))
    #expect(text.contains("deployctl_last_run_timestamp_seconds{command=\"deploy\"} 1700000000.000\n"))
    #expect(text.contains("deployctl_last_run_duration_seconds{command=\"deploy\"} 12.345\n"))
    #expect(text.contains("deployctl_last_run_success{command=\"deploy\"} 1\n"))
    #expect(text.contains("deployctl_last_run_hosts{command=\"deploy\",result=\"deployed\"} 2\n"))
    #expect(text.contains("deployctl_last_run_hosts{command=\"deploy\",result=\"rolled_back\"} 0\n"))
    #expect(
      PushgatewayPush.groupURL(base: "http://g:9091/", environment: "prod", app: "web")
        == "http://g:9091/metrics/job/deployctl/environment/prod/app/web")
  }
}
