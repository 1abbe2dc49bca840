import Foundation
import Testing

@testable import DeployConfig
@testable import DeployKit

/// A project folder in a temporary directory, removed when the fixture goes away.
final class ConfigFixture {
  let root: URL

  static let devInventory = """
    environment: dev
    ssh:
      user: deploy
    hosts:
      dev-1:
        address: 192.168.250.11
        vars: {REGION: local}

    """

  static let prodInventory = """
    environment: prod
    promote_from: dev
    ssh:
      user: deploy
      port: 22
      identity_file: ~/.ssh/id_ed25519
      known_hosts: ~/.ssh/known_hosts
      host_key_policy: strict
      connect_timeout: 10s
      jump: ops@bastion.example.com:2222
    hosts:
      web1:
        address: 10.0.1.11
        vars: {REGION: eu-west}
      web2:
        address: 10.0.1.12
        port: 2222
        user: admin
        identity_file: /keys/web2
        known_hosts: /etc/ssh/known
        host_key_policy: accept-new
        connect_timeout: 3s
        jump: bastion2
        vars: {REGION: eu-central}

    """

  static let webPlan = """
    app: web
    image: registry.example.com/acme/web
    container:
      ports: ["8080:8080"]
      volumes: ["/srv/web/data:/app/data"]
      env: {APP_ENV: "${environment}", REGION: "${REGION}"}
      secrets: [DATABASE_URL]
    health:
      http: {port: 8080, path: /healthz}

    """

  init(_ files: [String: String] = [:], base: Bool = true) throws {
    root = FileManager.default.temporaryDirectory.appendingPathComponent(
      "deployctl-config-\(UUID().uuidString)")
    var all: [String: String] = [:]
    if base {
      all = [
        "inventories/dev.yml": Self.devInventory, "inventories/prod.yml": Self.prodInventory,
        "playbooks/web.yml": Self.webPlan,
      ]
    }
    all.merge(files) { _, new in new }
    for (path, text) in all {
      let url = root.appendingPathComponent(path)
      try FileManager.default.createDirectory(
        at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      try text.write(to: url, atomically: true, encoding: .utf8)
    }
  }

  deinit {
    try? FileManager.default.removeItem(at: root)
  }

  var inventories: String { root.appendingPathComponent("inventories").path }
  var playbooks: String { root.appendingPathComponent("playbooks").path }

  /// A file's path as diagnostics show it.
  func path(_ relative: String) -> String {
    root.appendingPathComponent(relative).path
  }

  func validate(home: String = "/home/me") -> ProjectValidation {
    Project.validate(
      inventoriesDirectory: inventories, playbooksDirectory: playbooks, environment: ["HOME": home])
  }

  func load(home: String = "/home/me") throws(ConfigErrors) -> Project {
    try Project.load(
      inventoriesDirectory: inventories, playbooksDirectory: playbooks, environment: ["HOME": home])
  }
}

/// Expects exactly one diagnostic at `file:line:column` whose message contains `text`.
func expectDiagnostic(
  _ validation: ProjectValidation, _ file: String, _ line: Int, _ column: Int, _ text: String,
  severity: Diagnostic.Severity = .error, sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
  let matches = validation.diagnostics.filter {
    $0.location == DeployConfig.SourceLocation(file: file, line: line, column: column)
      && $0.message.contains(text)
      && $0.severity == severity
  }
  #expect(
    matches.count == 1,
    "expected one \(severity) at \(file):\(line):\(column) containing \"\(text)\"; got:\n\(validation.diagnostics.map(\.description).joined(separator: "\n"))",
    sourceLocation: sourceLocation)
}
