import DeployConfig
import DeployEngine
import Foundation

/// `deployctl init`: a starting project (docs/commands.md "init"): one inventory per
/// environment, a plan, and with `--ci github` a workflow that deploys the first environment on
/// every push to main and promotes to each next one behind a GitHub environment (manual
/// approval). It never overwrites a file: if any exists, it names them, writes nothing, exit 2.
public struct InitCommand: Sendable {
  public var app: String
  public var image: String?
  /// `ENV=ADDR[,ADDR]`, in promotion order; none: `dev` and `prod` with placeholder addresses.
  public var hosts: [String]
  public var githubWorkflow: Bool
  public var selection: ProjectSelection
  /// Where `.github/` goes: the folder deployctl runs in.
  public var root: String

  public init(
    app: String?, image: String?, hosts: [String], githubWorkflow: Bool, selection: ProjectSelection,
    root: String = FileManager.default.currentDirectoryPath
  ) {
    self.app = app ?? "web"
    self.image = image
    self.hosts = hosts
    self.githubWorkflow = githubWorkflow
    self.selection = selection
    self.root = root
  }

  public func run(on console: CommandConsole) -> CommandExit {
    var report = InitReport()
    do {
      let files = try self.files()
      let fm = FileManager.default
      report.existing = files.map(\.path).filter { fm.fileExists(atPath: $0) }
      guard report.existing.isEmpty else {
        report.result = .refused
        report.error =
          "not overwriting \(report.existing.joined(separator: ", ")); move them away or write the rest by hand"
        return console.finish(report)
      }
      for file in files {
        try fm.createDirectory(
          atPath: (file.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard fm.createFile(atPath: file.path, contents: Data(file.text.utf8)) else {
          throw RolloutError.refused("could not write \(file.path)")
        }
        report.files.append(file.path)
      }
      report.result = .success
    } catch {
      report.result = .refused
      report.error = String(describing: error)
    }
    return console.finish(report)
  }

  struct File {
    var path: String
    var text: String
  }

  /// One environment: its name and hosts' addresses.
  struct Environment {
    var name: String
    var addresses: [String]
  }

  func environments() throws -> [Environment] {
    if hosts.isEmpty {
      return [
        Environment(name: "dev", addresses: ["10.0.0.10"]),
        Environment(name: "prod", addresses: ["10.0.1.10"]),
      ]
    }
    var result: [Environment] = []
    for value in hosts {
      let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
      let addresses = parts.count == 2 ? parts[1].split(separator: ",").map(String.init) : []
      guard parts.count == 2, !addresses.isEmpty, addresses.allSatisfy({ !$0.isEmpty }) else {
        throw RolloutError.refused(
          "--hosts \(value): write ENV=ADDR[,ADDR], e.g. --hosts prod=10.0.1.11,10.0.1.12")
      }
      try NameRules.checkName(parts[0], kind: "environment name")
      for address in addresses where address.contains(where: { $0.isWhitespace || "'\"$`;&|<>".contains($0) })
      {
        throw RolloutError.refused("--hosts \(value): `\(address)` is not a host name or address")
      }
      guard !result.contains(where: { $0.name == parts[0] }) else {
        throw RolloutError.refused("--hosts: environment \(parts[0]) is given twice")
      }
      result.append(Environment(name: parts[0], addresses: addresses))
    }
    return result
  }

  func files() throws -> [File] {
    try NameRules.checkName(app, kind: "app name")
    let image = self.image ?? "registry.example.com/acme/\(app)"
    _ = try ImageRepository(parsing: image)
    let environments = try self.environments()
    var files: [File] = []
    for (n, environment) in environments.enumerated() {
      files.append(
        File(
          path: selection.inventoriesDirectory + "/\(environment.name).yml",
          text: inventory(environment, from: n > 0 ? environments[n - 1].name : nil)))
    }
    files.append(File(path: selection.playbooksDirectory + "/\(app).yml", text: plan(image: image)))
    if githubWorkflow {
      files.append(File(path: root + "/.github/workflows/deploy.yml", text: workflow(environments)))
    }
    return files
  }

  func inventory(_ environment: Environment, from previous: String?) -> String {
    var text = """
      # The \(environment.name) environment's hosts (docs/configuration.md "Inventory").
      environment: \(environment.name)          # must equal the file's name

      """
    if let previous {
      text +=
        "promote_from: \(previous)           # `deployctl promote \(previous) \(environment.name)` only takes what \(previous) runs\n"
    }
    text += """
      ssh:                            # defaults for every host; each key can be set per host
        user: deploy
        port: 22
        identity_file: ~/.ssh/id_ed25519   # absent: ssh-agent ($SSH_AUTH_SOCK)
        known_hosts: ~/.ssh/known_hosts
        host_key_policy: strict       # strict | accept-new
        connect_timeout: 10s
      hosts:

      """
    for (i, address) in environment.addresses.enumerated() {
      text += "  \(environment.name)-\(i + 1):\n    address: \(address)\n"
    }
    return text
  }

  func plan(image: String) -> String {
    """
    # How \(app) runs on every host (docs/configuration.md "Deploy plan").
    app: \(app)
    image: \(image)   # the repository; the tag or digest comes with each deploy
    container:
      name: \(app)                    # default: the app's name
      ports: ["8080:8080"]            # host:container
      # volumes: ["/srv/\(app)/data:/app/data"]   # never deleted by deployctl
      env: {APP_ENV: "${environment}"}          # ${environment} and host vars are substituted
      # secrets: [DATABASE_URL]       # names; values come from deployctl's own environment
      restart: unless-stopped
      stop_timeout: 10s
    health:                           # a host is healthy once this passes
      http: {port: 8080, path: /healthz, expect: 200}
      # cmd: ["pg_isready", "-q"]     # or: a command in the container, exit 0 is healthy
      # running: 20s                  # or: up this long with no restart (a worker without a port)
      # docker: true                  # or: the image's own HEALTHCHECK
      interval: 2s
      timeout: 2s
      retries: 15                     # consecutive failures before the host is unhealthy
      start_period: 5s
    # release_command: ["./manage.py", "migrate"]   # once per deploy, before any container changes
    # release_timeout: 10m
    rollout:
      batch: 1                        # hosts at a time: a number, "25%", or a list [1, "50%", "100%"]
      max_failures: 0                 # host failures tolerated before the rollout stops and rolls back
    rollback:
      auto: true                      # a failed rollout puts every moved host back
      keep: 5                         # releases kept on each host for `rollback --to`

    """
  }

  func workflow(_ environments: [Environment]) -> String {
    let version = DeployctlVersion.current
    let install = """
            - uses: actions/checkout@v4
            - uses: OWNER/deployctl@v\(version)   # deployctl's action.yml; OWNER: where you get deployctl from
              with:
                deb-url: https://github.com/OWNER/deployctl/releases/download/v\(version)/deployctl_\(version)_amd64.deb
                sha256: ${{ vars.DEPLOYCTL_SHA256 }}   # the .deb's line in the release's SHA256SUMS
            - name: SSH key and known hosts
              env:
                DEPLOY_SSH_KEY: ${{ secrets.DEPLOY_SSH_KEY }}
                DEPLOY_KNOWN_HOSTS: ${{ secrets.DEPLOY_KNOWN_HOSTS }}
              run: |
                install -d -m 700 ~/.ssh
                (umask 077 && printf '%s\\n' "$DEPLOY_SSH_KEY" > ~/.ssh/id_ed25519)
                printf '%s\\n' "$DEPLOY_KNOWN_HOSTS" > ~/.ssh/known_hosts

      """
    let first = environments[0].name
    var text = """
      # Deploys \(first) on every push to main, then promotes exactly what it runs, one environment
      # after another; each promotion waits in its GitHub environment for a reviewer (Settings →
      # Environments → required reviewers). Written by `deployctl init`.
      # Secrets: DEPLOY_SSH_KEY (the `deploy` user's key), DEPLOY_KNOWN_HOSTS (the hosts' keys).
      # Exit codes: 0 done, 1 failed and rolled back, 2 refused, 3 needs a person, 4 locked.
      name: deploy

      on:
        push:
          branches: [main]

      concurrency:
        group: deploy
        cancel-in-progress: false   # never cut a rollout short

      jobs:
        \(first):
          runs-on: ubuntu-latest
          environment: \(first)
          steps:
      \(install)      - run: deployctl validate
            - run: deployctl deploy \(first) --app \(app) --image "${GITHUB_SHA::12}"

      """
    for n in environments.indices.dropFirst() {
      let from = environments[n - 1].name
      let to = environments[n].name
      text += """

          \(to):
            needs: \(from)
            runs-on: ubuntu-latest
            environment: \(to)             # protect it to require a manual approval
            steps:
        \(install)      - run: deployctl promote \(from) \(to) --app \(app)

        """
    }
    return text
  }
}

/// `deployctl init`'s outcome (docs/json.md "init").
public struct InitReport: CommandOutcome {
  public var command = "init"
  public var result: CommandResult = .refused
  /// Written, in order.
  public var files: [String] = []
  /// Already there: nothing was written.
  public var existing: [String] = []
  public var error: String?

  public var exitCode: Int32 { result.exitStatus.rawValue }

  enum CodingKeys: String, CodingKey {
    case command, result, files, existing, error
    case exitCode = "exit_code"
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(command, forKey: .command)
    try c.encode(result, forKey: .result)
    try c.encode(exitCode, forKey: .exitCode)
    try c.encode(files, forKey: .files)
    try c.encode(existing, forKey: .existing)
    try c.encode(error, forKey: .error)
  }

  public func printSummary(on console: CommandConsole, masker: SecretMasker) {
    for file in files { console.terminal.line("wrote \(file)") }
    if let error { console.terminal.line("error: \(error)") }
    if result == .success {
      console.terminal.line("next: edit the addresses and image, then run `deployctl validate`")
    }
  }
}
