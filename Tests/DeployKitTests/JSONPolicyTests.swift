import Foundation
import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit
@testable import DeployTransport

/// Every report type read from a document and written again by `JSONPolicy` gives, byte for
/// byte, the document `Fixtures/JSON/<name>.json` (what deployctl printed before the policy had
/// one encoder): the same keys, the same nulls, the same keys left out.
@Suite struct JSONPolicyTests {
  static let digest = "reg/app@sha256:" + String(repeating: "c", count: 64)
  static let hostStatusFull = """
    {"name":"h1","reachable":true,"release":"r1","image":"\(digest)","state":"running","health":"healthy","error":"e/1",
     "tasks":[{"id":"t1","name":"web.1","node":"n1","address":"10.0.0.1","desiredState":"running","state":"running","image":"i","error":"x","health":"healthy"},
              {"id":"t2","name":"web.2","node":"n2","desiredState":"running","state":"running","image":"i"}]}
    """
  static let hostStatusBare = """
    {"name":"h2","reachable":false,"state":"absent","health":"unknown"}
    """
  static let load = """
    {"figures":{"url":"http://x/y","requests":10,"concurrency":2,"errors":1,"transport_errors":0,"status_errors":1,
     "error_rate":0.1,"requests_per_second":1234.5678,"p50_ms":1.25,"p95_ms":3.5,"p99_ms":4,"duration_ms":12,"error_samples":["HTTP 500 (1×)"]},
     "verdict":{"passed":false,"reasons":["error rate"]}}
    """
  static let commandFull = """
    {"command":"promote","environment":"prod","app":"web","result":"success","exit_code":0,
     "release":{"id":"r8","image":"\(digest)"},"previous_release":{"id":"r7","image":"\(digest)"},"promoted_from":"staging",
     "source":{"environment":"staging","image":"\(digest)","release":"r7","tag":"v1","live_since":"2026-11-21T17:15:30.123Z","hosts":[\(hostStatusFull),\(hostStatusBare)]},
     "dry_run":false,"hosts":[{"name":"p1","result":"deployed","release":"r8","duration_ms":5,"error":"boom","steps":[{"step":"pull","duration_ms":3}]},
                              {"name":"p2","result":"rolled_back","duration_ms":5,"steps":[]}],
     "error":null,"duration_ms":900,"waited_ms":3,
     "verification":{"via":"ssh_tunnel","passed":false,"hosts":[
        {"name":"p1","passed":false,"smoke":[{"port":80,"path":"/v","passed":false,"status":500,"reason":"HTTP 500","duration_ms":2},{"port":80,"path":"/w","passed":false,"reason":"refused","duration_ms":2}],"load":\(load),"error":"e","duration_ms":4},
        {"name":"p2","passed":true,"smoke":[],"duration_ms":4}]},
     "hooks":[{"name":"pre_deploy","result":"ok","exit_status":0,"duration_ms":1},{"name":"post_deploy","result":"failed","duration_ms":1,"error":"killed"}],
     "notifications":[{"name":"slack","result":"sent","duration_ms":1},{"name":"webhook","result":"failed","duration_ms":1,"error":"HTTP 500"}]}
    """
  static let commandBare = """
    {"command":"deploy","result":"refused","exit_code":2,"dry_run":true,"hosts":[],"duration_ms":0,"waited_ms":0,"hooks":[],"notifications":[]}
    """

  func expected(_ name: String) throws -> String {
    let url = try #require(Bundle.module.url(forResource: "Fixtures/JSON/\(name)", withExtension: "json"))
    return try String(contentsOf: url, encoding: .utf8)
  }

  func write<T: Codable>(_ name: String, _ type: T.Type, _ json: String) throws {
    let value = try ReportDecoding.decode(type, from: json)
    #expect(value.jsonString() == (try expected(name)), "\(name)")
  }

  @Test func everyReportAsBefore() throws {
    try write("command-full", CommandReport.self, Self.commandFull)
    try write("command-bare", CommandReport.self, Self.commandBare)
    try write("load", LoadResult.self, Self.load)
    try write(
      "status", StatusReport.self,
      #"{"command":"status","environment":"e","app":"a","result":"failed","exit_code":1,"hosts":[\#(Self.hostStatusFull),\#(Self.hostStatusBare)]}"#
    )
    try write(
      "history", HistoryReport.self,
      """
      {"command":"history","environment":"e","app":"a","result":"success","exit_code":0,
       "releases":[{"release":"r2","digest":"sha256:d","tag":"v2","user":"alice","time":"2026-11-21T17:15:30.123Z","how":"deploy","previous":"r1","result":"succeeded","hosts":[{"name":"h","result":"deployed"}],"live":true},
                   {"user":"bob","time":"2026-11-21T17:15:30.000Z","how":"lock-takeover","result":"succeeded","hosts":[],"live":false,"holder":"x@y","stale_s":40}],
       "hosts":[{"name":"h","reachable":true,"release":"r2"},{"name":"g","reachable":false,"error":"down"}]}
      """)
    try write(
      "exec", AdHocReport.self,
      """
      {"command":"exec","environment":"e","remote_command":"uptime","result":"failed","exit_code":1,"duration_ms":3,
       "hosts":[{"name":"a","result":"ok","exit_status":0,"stdout":"x\\n","stderr":"","duration_ms":1},
                {"name":"b","result":"failed","signal":"KILL","stdout":"","stderr":"e","duration_ms":1,"error":"timed out"}]}
      """)
    try write(
      "validate", ValidationReport.self,
      """
      {"command":"validate","valid":false,"result":"refused","exit_code":2,"environments":["a"],"apps":["w"],
       "diagnostics":[{"file":"a.yml","line":3,"column":4,"severity":"error","message":"m"},{"file":"b.yml","severity":"warning","message":"n"}]}
      """)
    try write(
      "lock", LockCommand.Report.self,
      """
      {"command":"lock","environment":"e","app":"a","action":"status","locked":true,"result":"locked","exit_code":4,
       "hosts":[{"name":"a","state":"held","holder":"me","expires_in_s":-3,"renewing":false},{"name":"b","state":"unknown","error":"down"},{"name":"c","state":"free"}]}
      """)
    try write(
      "logs", LogsReport.self,
      """
      {"command":"logs","environment":"e","app":"a","result":"failed","exit_code":1,"hosts":[{"name":"a","result":"ok"},{"name":"b","result":"failed","error":"x"}]}
      """)
    let container = """
      {"name":"web","ports":["80:80"],"volumes":[],"env":{"DATABASE_URL":"x","APP_ENV":"prod","a_b":"c"},"secrets":[{"name":"S","set":true}],
       "restart":"always","stop_timeout":"10s","log":{"max-size":"10m"},"options":["--init"]}
      """
    try write(
      "config", ResolvedConfig.self,
      """
      {"command":"config","environment":"e","app":"a","result":"success","exit_code":0,"image":"i",
       "rollout":{"batch":"50%","max_failures":0},"rollback":{"auto":true,"keep":3},
       "registry":{"server":"r","username_secret":{"name":"U","set":false},"password_secret":{"name":"P","set":true}},
       "hosts":[{"name":"h","address":"1.2.3.4","port":22,"user":"u","vars":{"REGION":"eu"},"container":\(container),
                 "health":{"check":"http://x","via":"ssh_tunnel","interval":"2s","timeout":"1s","retries":3,"start_period":"0s"}},
                {"name":"g","address":"1.2.3.5","port":22,"user":"u","jump":"j","vars":{},"container":{"name":"web","ports":[],"volumes":[],"env":{},"secrets":[],"command":["a"],"restart":"no","stop_timeout":"1s","log":{},"options":[]},
                 "health":{"check":"docker","expect":200,"contains":"ok","via":"direct","interval":"2s","timeout":"1s","retries":3,"start_period":"0s"}}]}
      """)
    try write(
      "config-bare", ResolvedConfig.self,
      """
      {"command":"config","environment":"e","app":"a","result":"success","exit_code":0,"image":"i",
       "rollout":{"batch":"50%","max_failures":0},"rollback":{"auto":true,"keep":3},
       "registry":{"server":"r","username":"bob","password_secret":{"name":"P","set":true}},"hosts":[]}
      """)
    try write(
      "config-noreg", ResolvedConfig.self,
      """
      {"command":"config","environment":"e","app":"a","result":"success","exit_code":0,"image":"i",
       "rollout":{"batch":"50%","max_failures":0},"rollback":{"auto":true,"keep":3},"hosts":[]}
      """)
    #expect(SlackPayload(text: "a/b \"q\"").jsonString() == (try expected("slack")))
  }

  struct Sample: Encodable {
    var rate: Double
    var note: String?
    var at: Date?
    @OmittedWhenNil var extra: Int? = nil
    var nested: [Sample] = []
  }

  @Test func nilIsNullUnlessOmittedTimesAreRFC3339AndInfinityIsText() {
    let time = Date(timeIntervalSince1970: 1_790_000_000.25)
    let sample = Sample(
      rate: .infinity, note: nil, at: time, nested: [Sample(rate: 1, note: "a/b", at: nil, extra: 3)])
    let json = sample.jsonString()
    #expect(json.contains(#""rate" : "Infinity""#), "\(json)")
    #expect(json.contains(#""note" : null"#) && json.contains(#""at" : null"#), "\(json)")
    #expect(json.contains(#""at" : "2026-09-21T"#) && json.contains(#".250Z""#), "\(json)")
    #expect(json.contains(#""extra" : 3"#) && json.components(separatedBy: "extra").count == 2, "\(json)")
    #expect(json.contains(#""note" : "a/b""#), "\(json)")
  }
}
