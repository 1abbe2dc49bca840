import Foundation
import Testing

@testable import DeployConfig
@testable import DeployKit

@Suite struct ConfigModelTests {
  @Test func hostsInheritSSHDefaultsAndOverrideEachKey() throws {
    let project = try ConfigFixture().load(home: "/home/me")
    let prod = try project.inventory(named: "prod")
    #expect(prod.environment == "prod")
    #expect(prod.promoteFrom == "dev")
    #expect(prod.hosts.map(\.name) == ["web1", "web2"])
    let web1 = prod.hosts[0]
    #expect(web1.address == "10.0.1.11")
    #expect(web1.port == 22)
    #expect(web1.user == "deploy")
    #expect(web1.identityFile == "/home/me/.ssh/id_ed25519")
    #expect(web1.knownHostsFile == "/home/me/.ssh/known_hosts")
    #expect(web1.hostKeyPolicy == .strict)
    #expect(web1.connectTimeout == .seconds(10))
    #expect(web1.jump == JumpHost(user: "ops", host: "bastion.example.com", port: 2222))
    #expect(web1.vars == ["REGION": "eu-west"])
    let web2 = prod.hosts[1]
    #expect(web2.port == 2222)
    #expect(web2.user == "admin")
    #expect(web2.identityFile == "/keys/web2")
    #expect(web2.knownHostsFile == "/etc/ssh/known")
    #expect(web2.hostKeyPolicy == .acceptNew)
    #expect(web2.connectTimeout == .seconds(3))
    #expect(web2.jump == JumpHost(user: nil, host: "bastion2", port: 22))
    #expect(web2.displayName == "web2 (10.0.1.12:2222)")
    // Where each setting was written: the host's own line, or the `ssh:` default it inherited.
    let file = project.inventories.first { $0.environment == "prod" }!.file
    #expect(web2.sourceMap["port"] == SourceLocation(file: file, line: 17, column: 11))
    #expect(web1.sourceMap["port"] == SourceLocation(file: file, line: 5, column: 9))
    #expect(web1.location == SourceLocation(file: file, line: 12, column: 3))
    #expect(prod.sourceMap["promote_from"]?.line == 2)
  }

  @Test func hostsMapOntoSSHTargets() throws {
    let prod = try ConfigFixture().load(home: "/home/me").inventory(named: "prod")
    let web1 = prod.hosts[0].sshTarget
    #expect(web1.name == "web1")
    #expect(web1.endpoint == "deploy@10.0.1.11:22")
    #expect(web1.identity == .file("/home/me/.ssh/id_ed25519"))
    #expect(web1.knownHostsFile == "/home/me/.ssh/known_hosts")
    #expect(web1.jump?.user == "ops")
    #expect(web1.jump?.address == "bastion.example.com")
    #expect(web1.jump?.port == 2222)
    let web2 = prod.hosts[1].sshTarget
    #expect(web2.hostKeyPolicy == .acceptNew)
    #expect(web2.connectTimeout == .seconds(3))
    #expect(web2.jump?.user == "admin")
    let dev = try ConfigFixture().load().inventory(named: "dev").hosts[0].sshTarget
    #expect(dev.identity == .agent())
    #expect(dev.jump == nil)
  }

  @Test func resolvedPlansMapOntoDockerRunSpecs() throws {
    let project = try ConfigFixture().load()
    let prod = try project.inventory(named: "prod")
    let plan = try project.plan(app: nil).resolved(for: prod, host: prod.hosts[0])
    let digest = "sha256:" + String(repeating: "b", count: 64)
    let spec = plan.runSpec(
      image: try plan.imageReference(digest), release: "r1", envFile: "/var/lib/deployctl/web/r1.env")
    #expect(spec.name == "web")
    #expect(spec.image.pinned == "registry.example.com/acme/web@\(digest)")
    #expect(spec.ports == plan.container.ports)
    #expect(spec.env == [EnvVar("APP_ENV", "prod"), EnvVar("REGION", "eu-west")])
    #expect(spec.environment == "prod")
    #expect(spec.stopTimeoutSeconds == 10)
    #expect(spec.log == LogOptions(maxSize: "10m", maxFiles: 3))
    try spec.validate()
  }

  @Test func deployctlsOwnDefaults() throws {
    let project = try ConfigFixture().load(home: "/root/")
    let dev = try project.inventory(named: "dev").hosts[0]
    #expect(dev.identityFile == nil)
    #expect(dev.knownHostsFile == "/root/.ssh/known_hosts")
    #expect(dev.hostKeyPolicy == .strict)
    #expect(dev.connectTimeout == .seconds(10))
    #expect(dev.jump == nil)
    #expect(dev.port == 22)
  }

  @Test func environmentsAreOrderedAlongPromotion() throws {
    let fixture = try ConfigFixture([
      "inventories/staging.yml":
        "environment: staging\npromote_from: dev\nssh: {user: u}\nhosts:\n  s: {address: 10.2.0.1, vars: {REGION: x}}\n",
      "inventories/prod.yml":
        "environment: prod\npromote_from: staging\nssh: {user: u}\nhosts:\n  p: {address: 10.3.0.1, vars: {REGION: x}}\n",
      "inventories/aaa.yml":
        "environment: aaa\nssh: {user: u}\nhosts:\n  a: {address: 10.4.0.1, vars: {REGION: x}}\n",
    ])
    #expect(try fixture.load().environments == ["aaa", "dev", "staging", "prod"])
  }

  @Test func planSelection() throws {
    let one = try ConfigFixture().load()
    #expect(try one.plan(app: nil).app == "web")
    #expect(try one.plan(app: "web").file.hasSuffix("playbooks/web.yml"))
    do {
      _ = try one.plan(app: "wbe")
      Issue.record("unknown app accepted")
    } catch {
      #expect(error.description.contains("no app `wbe`"))
      #expect(error.description.contains("did you mean `web`?"))
      #expect(error.exitStatus == .refused)
    }
    do {
      _ = try one.inventory(named: "prd")
      Issue.record("unknown environment accepted")
    } catch {
      #expect(error.description.contains("did you mean `prod`?"))
    }
    let two = try ConfigFixture(["playbooks/api.yml": "app: api\nimage: acme/api\n"]).load()
    #expect(two.apps == ["api", "web"])
    do {
      _ = try two.plan(app: nil)
      Issue.record("ambiguous app accepted")
    } catch {
      #expect(error.description.contains("2 deploy plans (api, web): choose one with `--app NAME`"))
    }
  }

  @Test func resolvedPlanHasSubstitutionsAndSpecDefaults() throws {
    let project = try ConfigFixture().load()
    let prod = try project.inventory(named: "prod")
    let plan = try project.plan(app: nil).resolved(for: prod, host: prod.hosts[1])
    #expect(plan.app == "web")
    #expect(plan.environment == "prod")
    #expect(plan.host.name == "web2")
    #expect(plan.image.description == "registry.example.com/acme/web")
    #expect(try plan.imageReference("v2").description == "registry.example.com/acme/web:v2")
    let c = plan.container
    #expect(c.name == "web")
    #expect(c.ports == [PortMapping(hostPort: 8080, containerPort: 8080)])
    #expect(c.volumes == [VolumeMount(source: "/srv/web/data", target: "/app/data")])
    #expect(
      c.env == [
        EnvVar("APP_ENV", "prod"),
        EnvVar("REGION", "eu-central"),
      ])
    #expect(c.secrets == ["DATABASE_URL"])
    #expect(c.missingSecrets(in: ["DATABASE_URL": "x"]) == [])
    #expect(c.missingSecrets(in: [:]) == ["DATABASE_URL"])
    #expect(c.command == nil)
    #expect(c.restart == .unlessStopped)
    #expect(c.stopTimeout == .seconds(10))
    #expect(c.log.maxSize == "10m")
    #expect(c.log.maxFiles == 3)
    let health = try #require(plan.health)
    #expect(health.probe == .http(HTTPHealthSpec(port: 8080, path: "/healthz", expectStatus: 200)))
    #expect(health.via == .ssh)
    #expect(health.interval == .seconds(2))
    #expect(health.timeout == .seconds(2))
    #expect(health.retries == 15)
    #expect(health.startPeriod == .seconds(5))
    #expect(try health.policy().retries == 15)
    #expect(plan.rollout == RolloutPolicy(batch: .oneAtATime, maxFailures: 0))
    #expect(plan.rollback == RollbackPolicy(auto: true, keep: 5))
    #expect(plan.sourceMap["container.ports[0]"] == SourceLocation(file: plan.file, line: 4, column: 11))
    #expect(
      plan.sourceMap.location(of: "health.http.expect") == SourceLocation(file: plan.file, line: 9, column: 9)
    )
    #expect(
      plan.sourceMap.location(of: "rollout.batch") == SourceLocation(file: plan.file, line: 1, column: 1))
  }

  @Test func everyPlanKeyIsRead() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": """
      app: web
      image: 192.168.250.1:5000/app
      container:
        name: web-${environment}
        ports: [8501, "127.0.0.1:9000:9000/udp"]
        volumes: ["data:/app/data", "/etc/web:/etc/web:ro"]
        env: {PORT: 8501, DEBUG: false, EMPTY: ""}
        secrets: [DATABASE_URL, API_TOKEN]
        command: [httpd, -f, -p, "8501", -h, /www]
        restart: on-failure:3
        stop_timeout: 1m30s
        log: {max_size: 512k, max_files: 5}
      health:
        http: {port: 8501, path: /healthz?full=1, expect: 204, contains: ok}
        via: direct
        interval: 500ms
        timeout: 1s
        retries: 3
        start_period: 0s
      rollout: {batch: [1, "50%", "100%"], max_failures: 1}
      rollback: {auto: false, keep: 2}

      """
    ])
    let project = try fixture.load()
    let dev = try project.inventory(named: "dev")
    let plan = try project.plan(app: "web").resolved(for: dev, host: dev.hosts[0])
    #expect(plan.container.name == "web-dev")
    #expect(plan.container.ports.map(\.argument) == ["8501:8501", "127.0.0.1:9000:9000/udp"])
    #expect(plan.container.volumes.map(\.argument) == ["data:/app/data", "/etc/web:/etc/web:ro"])
    #expect(plan.container.env.map(\.value) == ["8501", "false", ""])
    #expect(plan.container.secrets == ["DATABASE_URL", "API_TOKEN"])
    #expect(plan.container.command == ["httpd", "-f", "-p", "8501", "-h", "/www"])
    #expect(plan.container.restart == .onFailure(maxRetries: 3))
    #expect(plan.container.stopTimeout == .seconds(90))
    #expect(plan.container.log.maxSize == "512k")
    #expect(plan.container.log.maxFiles == 5)
    let health = try #require(plan.health)
    #expect(
      health.probe
        == .http(HTTPHealthSpec(port: 8501, path: "/healthz?full=1", expectStatus: 204, bodyContains: "ok")))
    #expect(health.via == .direct)
    #expect(health.interval == .milliseconds(500))
    #expect(health.timeout == .seconds(1))
    #expect(health.retries == 3)
    #expect(health.startPeriod == .zero)
    if case .http(let http) = health.probe {
      #expect(http.url(host: "192.168.250.11") == "http://192.168.250.11:8501/healthz?full=1")
    }
    #expect(plan.rollout.batch.batches(hostCount: 4) == [1, 2, 1])
    #expect(plan.rollout.maxFailures == 1)
    #expect(plan.rollback == RollbackPolicy(auto: false, keep: 2))
  }

  @Test func dockerHealthCheckMode() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": "app: web\nimage: acme/web\nhealth: {docker: true, retries: 2}\n"
    ])
    let project = try fixture.load()
    let dev = try project.inventory(named: "dev")
    let plan = try project.plan(app: nil).resolved(for: dev, host: dev.hosts[0])
    #expect(plan.health?.probe == .docker)
    #expect(plan.health?.retries == 2)
    #expect(plan.container.ports == [])
  }

  @Test func environmentOverridesMergeOverTheBase() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": ConfigFixture.webPlan + """
        rollout: {batch: 1, max_failures: 0}
        environments:
          prod:
            container:
              ports: ["80:8080"]
              env: {LOG_LEVEL: warn}
            health:
              http: {port: 80}
            rollout: {batch: "50%"}
          dev:
            health: ~

        """
    ])
    let project = try fixture.load()
    let playbook = try project.plan(app: "web")
    #expect(playbook.overriddenEnvironments == ["prod", "dev"])
    let prod = try project.inventory(named: "prod")
    let plan = try playbook.resolved(for: prod)
    #expect(plan.hosts.count == 2)
    #expect(plan.rollout.batch == BatchPolicy([.percent(50)]))
    #expect(plan.rollout.maxFailures == 0)
    #expect(plan.rollout.batch.batches(hostCount: plan.hosts.count) == [1, 1])
    let web1 = try #require(plan.host(named: "web1"))
    // Lists are replaced, mappings merged key by key.
    #expect(web1.container.ports == [PortMapping(hostPort: 80, containerPort: 8080)])
    #expect(web1.container.env.map(\.name) == ["APP_ENV", "REGION", "LOG_LEVEL"])
    #expect(web1.container.env.last?.value == "warn")
    #expect(web1.container.volumes.count == 1)
    #expect(web1.health?.probe == .http(HTTPHealthSpec(port: 80, path: "/healthz")))
    // Values from the override point at the override.
    #expect(web1.sourceMap["container.ports[0]"]?.line == 14)
    #expect(web1.sourceMap["container.volumes[0]"]?.line == 5)
    // `~` removes a key: dev has no health check.
    let dev = try project.inventory(named: "dev")
    #expect(try playbook.resolved(for: dev, host: dev.hosts[0]).health == nil)
    #expect(try playbook.resolved(for: dev, host: dev.hosts[0]).rollout.batch == .oneAtATime)
  }

  @Test func overrideProblemsAreReportedAtTheOverride() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": ConfigFixture.webPlan + """
        environments:
          prod:
            container: {portz: []}
            app: other
          prd: {}
          dev: [1]

        """
    ])
    let v = fixture.validate()
    let file = fixture.path("playbooks/web.yml")
    expectDiagnostic(v, file, 12, 17, "unknown key `portz` in `container`; did you mean `ports`?")
    expectDiagnostic(v, file, 13, 5, "`app` cannot be changed per environment")
    expectDiagnostic(v, file, 14, 3, "there is no environment `prd` (no ")
    expectDiagnostic(v, file, 15, 8, "`environments.dev` must be a mapping")
  }

  @Test func anchorsAndMergeKeysWorkInInventories() throws {
    let fixture = try ConfigFixture([
      "inventories/dev.yml": """
      environment: dev
      ssh: {user: deploy}
      hosts:
        dev-1: &host
          address: 192.168.250.11
          port: 2222
          vars: {REGION: x}
        dev-2:
          <<: *host
          address: 192.168.250.12

      """
    ])
    let dev = try fixture.load().inventory(named: "dev")
    #expect(dev.hosts.map(\.address) == ["192.168.250.11", "192.168.250.12"])
    #expect(dev.hosts[1].port == 2222)
    #expect(dev.hosts[1].vars == ["REGION": "x"])
  }

  @Test func loadThrowsEveryProblemAsARefusal() throws {
    let fixture = try ConfigFixture([
      "inventories/dev.yml": "environment: dev\nssh: {user: deploy, port: x}\nhosts:\n  d: {address: 'a b'}\n"
    ])
    do {
      _ = try fixture.load()
      Issue.record("invalid project loaded")
    } catch {
      #expect(error.exitStatus == .refused)
      #expect(error.errors.count == 2)
      let lines = error.description.split(separator: "\n")
      #expect(lines.count == 2)
      #expect(lines[0].hasPrefix(fixture.path("inventories/dev.yml") + ":2:27: error: "))
      #expect(lines[1].hasPrefix(fixture.path("inventories/dev.yml") + ":4:16: error: "))
    }
  }

  @Test func tildeNeedsAPathAfterIt() throws {
    let fixture = try ConfigFixture([
      "inventories/dev.yml":
        "environment: dev\nssh: {user: deploy, identity_file: ~bob/key}\nhosts:\n  d: {address: 10.9.0.1, vars: {REGION: x}}\n"
    ])
    expectDiagnostic(
      fixture.validate(), fixture.path("inventories/dev.yml"), 2, 36, "`~user` paths are not supported")
  }

  @Test func resolvingForAHostWithoutItsVariablesThrows() throws {
    let project = try ConfigFixture().load()
    let stranger = Inventory(
      environment: "qa",
      hosts: [
        Host(
          name: "q1", address: "10.5.0.1", user: "u", knownHostsFile: "/k",
          location: SourceLocation(file: "x"))
      ],
      file: "inventories/qa.yml")
    do {
      _ = try project.plan(app: nil).resolved(for: stranger, host: stranger.hosts[0])
      Issue.record("missing variable accepted")
    } catch {
      #expect(error.description.contains("`${REGION}` is not defined for host q1 (qa)"))
    }
  }
}
