import Foundation
import Testing

@testable import DeployConfig
@testable import DeployKit

@Suite struct ConfigValidationTests {
  @Test func theBaseFixtureIsValid() throws {
    let fixture = try ConfigFixture()
    let validation = fixture.validate()
    #expect(validation.diagnostics == [])
    #expect(validation.isValid)
    #expect(validation.environments == ["dev", "prod"])
    #expect(validation.apps == ["web"])
  }

  @Test func aStringWhereAPortIsExpected() throws {
    let fixture = try ConfigFixture([
      "inventories/dev.yml": """
      environment: dev
      ssh:
        user: deploy
        port: "22"
      hosts:
        dev-1: {address: 192.168.250.11, port: twenty}

      """
    ])
    let v = fixture.validate()
    let file = fixture.path("inventories/dev.yml")
    expectDiagnostic(
      v, file, 4, 9, "`ssh.port` must be a port number (1-65535), found the string \"22\"; remove the quotes")
    expectDiagnostic(v, file, 6, 42, "`hosts.dev-1.port` must be a port number (1-65535), found `twenty`")
    #expect(!v.isValid)
  }

  @Test func aMissingRequiredKeyPointsAtTheMappingThatLacksIt() throws {
    let fixture = try ConfigFixture([
      "inventories/dev.yml": """
      ssh:
        user: deploy
      hosts:
        dev-1:
          port: 22

      """,
      "playbooks/web.yml": "app: web\ncontainer: {name: web}\n",
    ])
    let v = fixture.validate()
    let inventory = fixture.path("inventories/dev.yml")
    expectDiagnostic(v, inventory, 1, 1, "missing required key `environment`")
    expectDiagnostic(v, inventory, 5, 5, "`hosts.dev-1` is missing required key `address`")
    expectDiagnostic(v, fixture.path("playbooks/web.yml"), 1, 1, "missing required key `image`")
  }

  @Test func unknownKeysSuggestTheClosestKnownOne() throws {
    let fixture = try ConfigFixture([
      "inventories/dev.yml": """
      environment: dev
      promote-from: prod
      ssh: {user: deploy, conect_timeout: 5s}
      hosts:
        dev-1: {adress: 192.168.250.11}

      """,
      "playbooks/web.yml": ConfigFixture.webPlan + "helth: {}\nrollout: {batches: 2}\ncontainer2: {}\n",
    ])
    let v = fixture.validate()
    let inventory = fixture.path("inventories/dev.yml")
    let plan = fixture.path("playbooks/web.yml")
    expectDiagnostic(v, inventory, 2, 1, "unknown key `promote-from`; did you mean `promote_from`?")
    expectDiagnostic(
      v, inventory, 3, 21, "unknown key `conect_timeout` in `ssh`; did you mean `connect_timeout`?")
    expectDiagnostic(v, inventory, 5, 11, "unknown key `adress` in `hosts.dev-1`; did you mean `address`?")
    expectDiagnostic(v, plan, 10, 1, "unknown key `helth`; did you mean `health`?")
    expectDiagnostic(v, plan, 11, 11, "unknown key `batches` in `rollout`; did you mean `batch`?")
    expectDiagnostic(v, plan, 12, 1, "unknown key `container2`; did you mean `container`?")
  }

  @Test func duplicateHostNamesAndAddresses() throws {
    let fixture = try ConfigFixture([
      "inventories/dev.yml": """
      environment: dev
      ssh: {user: deploy}
      hosts:
        dev-1: {address: 192.168.250.11, vars: {REGION: a}}
        dev-2: {address: 192.168.250.11, vars: {REGION: a}}
        dev-1: {address: 192.168.250.12, vars: {REGION: a}}
        DEV-2: {address: 192.168.250.13, vars: {REGION: a}}
        dev-3: {address: 10.0.1.11, vars: {REGION: a}}

      """
    ])
    let v = fixture.validate()
    let file = fixture.path("inventories/dev.yml")
    expectDiagnostic(v, file, 6, 3, "duplicate key `dev-1` (first defined at line 4, column 3)")
    expectDiagnostic(v, file, 7, 3, "host `DEV-2` differs from host `dev-2` (line 5) only in case")
  }

  @Test func sharedAddressesAreWarnings() throws {
    let fixture = try ConfigFixture([
      "inventories/dev.yml": """
      environment: dev
      ssh: {user: deploy}
      hosts:
        dev-1: {address: 192.168.250.11, vars: {REGION: a}}
        dev-2: {address: 192.168.250.11, vars: {REGION: a}}
        dev-3: {address: 192.168.250.11, port: 2222, vars: {REGION: a}}
        dev-4: {address: 10.0.1.11, vars: {REGION: a}}

      """
    ])
    let v = fixture.validate()
    expectDiagnostic(
      v, fixture.path("inventories/dev.yml"), 5, 20,
      "host `dev-2` has the same address and port as host `dev-1` (line 4)",
      severity: .warning)
    // The same address in another environment (prod's web1 is 10.0.1.11:22).
    expectDiagnostic(
      v, fixture.path("inventories/prod.yml"), 13, 14, "same address and port as host `dev-4` of `dev`",
      severity: .warning)
    #expect(v.warnings.count == 2)
    #expect(v.isValid)
  }

  @Test func warningsAloneLeaveTheProjectValid() throws {
    let fixture = try ConfigFixture([
      "inventories/dev.yml": """
      environment: dev
      ssh: {user: deploy}
      hosts:
        dev-1: {address: 192.168.250.11, vars: {REGION: a}}
        dev-2: {address: 192.168.250.11, vars: {REGION: a}}

      """
    ])
    let v = fixture.validate()
    #expect(v.isValid)
    #expect(v.warnings.count == 1)
    #expect(try fixture.load().warnings.count == 1)
  }

  @Test func environmentMustMatchTheFileName() throws {
    let fixture = try ConfigFixture([
      "inventories/dev.yml": "environment: develop\nssh: {user: deploy}\nhosts:\n  d: {address: 1.2.3.4}\n",
      "playbooks/web.yml": "app: webapp\nimage: acme/web\n",
    ])
    let v = fixture.validate()
    expectDiagnostic(
      v, fixture.path("inventories/dev.yml"), 1, 14,
      "`environment: develop` does not match the file name `dev.yml`")
    expectDiagnostic(
      v, fixture.path("playbooks/web.yml"), 1, 6, "`app: webapp` does not match the file name `web.yml`")
  }

  @Test func promoteFromMustNameAnEnvironment() throws {
    let fixture = try ConfigFixture([
      "inventories/prod.yml":
        "environment: prod\npromote_from: stagin\nssh: {user: deploy}\nhosts:\n  p: {address: 10.9.9.9}\n",
      "inventories/staging.yml":
        "environment: staging\npromote_from: staging\nssh: {user: deploy}\nhosts:\n  s: {address: 10.9.9.8}\n",
    ])
    let v = fixture.validate()
    expectDiagnostic(
      v, fixture.path("inventories/prod.yml"), 2, 15,
      "there is no environment `stagin`; environments: dev, prod, staging; did you mean `staging`?")
    expectDiagnostic(v, fixture.path("inventories/staging.yml"), 2, 15, "names this environment itself")
  }

  @Test func promoteFromCyclesAreReportedOnceWithTheCycle() throws {
    let fixture = try ConfigFixture([
      "inventories/dev.yml":
        "environment: dev\npromote_from: prod\nssh: {user: deploy}\nhosts:\n  d: {address: 10.9.9.7, vars: {REGION: x}}\n",
      "inventories/staging.yml":
        "environment: staging\npromote_from: dev\nssh: {user: deploy}\nhosts:\n  s: {address: 10.9.9.8, vars: {REGION: x}}\n",
      "inventories/prod.yml":
        "environment: prod\npromote_from: staging\nssh: {user: deploy}\nhosts:\n  p: {address: 10.9.9.9, vars: {REGION: x}}\n",
    ])
    let v = fixture.validate()
    expectDiagnostic(
      v, fixture.path("inventories/dev.yml"), 2, 15,
      "`promote_from` forms a cycle: dev promotes from prod, prod promotes from staging, staging promotes from dev"
    )
    #expect(v.errors.count == 1)
  }

  @Test func containerNamesSecretsAndVolumes() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": """
      app: web
      image: acme/web
      container:
        name: "-web"
        volumes: ["data/web:/app/data", "/srv/my data:/app/x", "/srv/ok:relative"]
        env: {GOOD: x, "BAD-NAME": y}
        secrets: [DATABASE_URL, "API KEY", "9LIVES", GOOD]

      """
    ])
    let v = fixture.validate()
    let file = fixture.path("playbooks/web.yml")
    expectDiagnostic(v, file, 4, 9, "`container.name`: `-web` is not a valid container name")
    expectDiagnostic(v, file, 5, 13, "the host path `data/web` is relative")
    expectDiagnostic(v, file, 5, 35, "the host path contains a space")
    expectDiagnostic(v, file, 5, 58, "the container path `relative` must be absolute")
    expectDiagnostic(v, file, 6, 18, "`BAD-NAME` is not a valid variable name (it contains `-`)")
    expectDiagnostic(v, file, 7, 27, "`API KEY` is not a valid variable name (it contains a space)")
    expectDiagnostic(v, file, 7, 38, "`9LIVES` is not a valid variable name")
    expectDiagnostic(v, file, 7, 48, "`GOOD` is also set in `container.env`")
  }

  @Test func shellMetacharactersAreRefusedWhereValuesReachAShell() throws {
    let fixture = try ConfigFixture([
      "inventories/dev.yml": """
      environment: dev
      ssh: {user: "deploy;id"}
      hosts:
        "web$(reboot)": {address: 192.168.250.11}
        dev-2: {address: "192.168.250.12 -oProxyCommand=x", user: "a b"}
        dev-3: {address: "-oProxyCommand=x"}

      """
    ])
    let v = fixture.validate()
    let file = fixture.path("inventories/dev.yml")
    expectDiagnostic(v, file, 2, 13, "`ssh.user`: `deploy;id` is not a valid user name (it contains `;`)")
    expectDiagnostic(v, file, 4, 3, "`web$(reboot)` is not a valid host name (it contains `$`)")
    expectDiagnostic(v, file, 5, 20, "is not a valid address (it contains a space)")
    expectDiagnostic(v, file, 5, 61, "`a b` is not a valid user name (it contains a space)")
    expectDiagnostic(v, file, 6, 20, "`-oProxyCommand=x` is not a valid address (it starts with `-`)")
  }

  @Test func rangesOfNumbers() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": """
      app: web
      image: acme/web
      container:
        ports: ["8080:8080", "99999:80", "8080:9090"]
      health:
        http: {port: 0, expect: 700}
        retries: 0
      rollout:
        batch: [1, "0%", "101%", "50%"]
        max_failures: -1
      rollback: {keep: 0}

      """
    ])
    let v = fixture.validate()
    let file = fixture.path("playbooks/web.yml")
    expectDiagnostic(
      v, file, 4, 24,
      "`container.ports[1]`: `99999:80` is not a port mapping: ports are numbers from 1 to 65535")
    expectDiagnostic(v, file, 4, 36, "host port 8080/tcp is already published at line 4, column 11")
    expectDiagnostic(v, file, 6, 16, "`health.http.port` must be a port number (1-65535), found 0")
    expectDiagnostic(v, file, 6, 27, "`health.http.expect` must be an HTTP status (100-599), found 700")
    expectDiagnostic(v, file, 7, 12, "`health.retries` must be a number of checks (1-10000), found 0")
    expectDiagnostic(v, file, 9, 14, "`rollout.batch[1]`: `0%`: a batch percentage is from 1% to 100%")
    expectDiagnostic(v, file, 9, 20, "`rollout.batch[2]`: `101%`")
    expectDiagnostic(
      v, file, 10, 17, "`rollout.max_failures` must be a number of hosts (0 or more), found -1")
    expectDiagnostic(v, file, 11, 18, "`rollback.keep` must be a number of releases (1-1000), found 0")
  }

  @Test func volumeTargetsAndCommandArguments() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": """
      app: web
      image: acme/web
      container:
        volumes: ["/srv/a:/data", "/srv/b:/data"]
        command: ["httpd", "-p\\0"]
      hooks:
        pre_deploy: ["", "--check"]

      """
    ])
    let v = fixture.validate()
    let file = fixture.path("playbooks/web.yml")
    expectDiagnostic(
      v, file, 4, 29, "`container.volumes[1]`: `/data` is already mounted at line 4, column 13")
    expectDiagnostic(v, file, 5, 22, "`container.command[1]` contains a NUL character")
    expectDiagnostic(v, file, 7, 16, "`hooks.pre_deploy[0]` is empty; name the program to run")
  }

  @Test func imageRepositorySyntax() throws {
    let fixture = try ConfigFixture(["playbooks/web.yml": "app: web\nimage: Acme/Web:latest\n"])
    let v = fixture.validate()
    expectDiagnostic(v, fixture.path("playbooks/web.yml"), 2, 8, "the tag is given per deploy")
    let upper = try ConfigFixture(["playbooks/web.yml": "app: web\nimage: registry.example.com/Acme\n"])
    expectDiagnostic(
      upper.validate(), upper.path("playbooks/web.yml"), 2, 8,
      "is not an image repository: repository names must be lowercase (\"Acme\")")
  }

  @Test func healthChecksNeedExactlyOneProbe() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": """
      app: web
      image: acme/web
      health: {interval: 0s, via: pigeon}

      """
    ])
    let v = fixture.validate()
    let file = fixture.path("playbooks/web.yml")
    expectDiagnostic(v, file, 3, 9, "`health` needs a check")
    expectDiagnostic(v, file, 3, 20, "`health.interval` must be at least")
    expectDiagnostic(v, file, 3, 29, "`health.via`: `pigeon` is not a way to check")
    let both = try ConfigFixture([
      "playbooks/web.yml": "app: web\nimage: acme/web\nhealth:\n  http: {port: 80}\n  docker: true\n"
    ])
    expectDiagnostic(both.validate(), both.path("playbooks/web.yml"), 5, 3, "both `http` and `docker: true`")
  }

  @Test func aHealthPortThatIsNotPublishedIsAWarning() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml": ConfigFixture.webPlan.replacingOccurrences(
        of: "port: 8080, path", with: "port: 9000, path")
    ])
    let v = fixture.validate()
    expectDiagnostic(
      v, fixture.path("playbooks/web.yml"), 9, 16,
      "`health.http.port` is 9000, but `container.ports` publishes 8080:8080",
      severity: .warning)
    #expect(v.isValid)
  }

  @Test func unknownVariablesAreReportedOnceAtTheirPosition() throws {
    let fixture = try ConfigFixture([
      "inventories/dev.yml":
        "environment: dev\nssh: {user: deploy}\nhosts:\n  dev-1: {address: 192.168.250.11}\n",
      "playbooks/web.yml": """
      app: web
      image: acme/${environment}-web
      container:
        env:
          A: "${REGION}"
          B: ${environmnt}
          C: "x-${NOPE}-y"
          D: "$${LITERAL} and $5"
      rollout: {batch: "${REGION}"}

      """,
    ])
    let v = fixture.validate()
    let file = fixture.path("playbooks/web.yml")
    expectDiagnostic(
      v, file, 5, 9, "`${REGION}` is not defined for host dev-1 (dev): add `REGION` to its `vars`")
    expectDiagnostic(v, file, 6, 8, "unknown variable `${environmnt}`; did you mean `${environment}`?")
    expectDiagnostic(
      v, file, 7, 11,
      "`${NOPE}` is not defined for hosts dev-1 (dev), web1 (prod), web2 (prod): add `NOPE` to their `vars`")
    expectDiagnostic(
      v, file, 9, 19, "`${REGION}` is a host variable, but `rollout` is the same on every host")
    #expect(v.errors.count == 4)
  }

  @Test func missingFoldersAndEmptyFolders() throws {
    let missing = Project.validate(
      inventoriesDirectory: "/nonexistent/inv", playbooksDirectory: "/nonexistent/plays")
    #expect(!missing.isValid)
    #expect(missing.errors.map(\.location.file) == ["/nonexistent/inv", "/nonexistent/plays"])
    #expect(missing.errors[0].message.contains("no such directory"))
    #expect(missing.errors[0].message.contains("--inventories"))

    let empty = try ConfigFixture(
      ["inventories/notes.txt": "x", "playbooks/web.yaml": "app: web\n"], base: false)
    let v = empty.validate()
    #expect(!v.isValid)
    expectDiagnostic(v, empty.inventories, 0, 0, "no inventories here")
    expectDiagnostic(v, empty.playbooks, 0, 0, "no deploy plans here")
    expectDiagnostic(v, empty.path("playbooks/web.yaml"), 0, 0, "rename it to `web.yml`", severity: .warning)
  }

  @Test func yamlProblemsBecomeDiagnosticsAndOtherFilesAreStillChecked() throws {
    let fixture = try ConfigFixture([
      "inventories/dev.yml": "environment: dev\nhosts: [\n",
      "playbooks/web.yml": "app: web\nimage: acme/web\n---\napp: other\n",
    ])
    let v = fixture.validate()
    expectDiagnostic(v, fixture.path("inventories/dev.yml"), 3, 1, "did not find expected node content")
    expectDiagnostic(v, fixture.path("playbooks/web.yml"), 3, 1, "a second YAML document")
    // prod.yml is fine and still checked: nothing reported there.
    #expect(!v.diagnostics.contains { $0.location.file == fixture.path("inventories/prod.yml") })
  }

  @Test func diagnosticsAreSortedByFileAndPosition() throws {
    let fixture = try ConfigFixture([
      "playbooks/web.yml":
        "app: web\nimage: acme/web\nrollback: {keep: 0, auto: maybe}\ncontainer: {name: -x}\n",
      "inventories/dev.yml": "environment: dev\nhosts:\n  a: {address: 'x y'}\n",
    ])
    let v = fixture.validate()
    let sorted = v.diagnostics.sorted { $0.location < $1.location }
    #expect(v.diagnostics.map(\.location) == sorted.map(\.location))
    #expect(v.diagnostics.first?.location.file == fixture.path("inventories/dev.yml"))
    #expect(v.diagnostics.first?.description.hasPrefix(fixture.path("inventories/dev.yml") + ":3:") == true)
  }
}
