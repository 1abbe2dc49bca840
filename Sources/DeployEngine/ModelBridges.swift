import DeployConfig
import DeployTransport

/// How the configuration model maps onto the SSH, Docker and health layers, which stay independent of it.

extension Host {
  /// How to reach this host: its identity file or the ssh-agent, known_hosts, policy, timeout
  /// and jump host. A jump host without a user uses this host's user; it is checked with the
  /// same identity, known_hosts and policy.
  public var sshTarget: SSHTarget {
    let identity: SSHIdentity = identityFile.map { .file($0) } ?? .agent()
    return SSHTarget(
      name: name, address: address, port: port, user: user, identity: identity,
      knownHostsFile: knownHostsFile,
      hostKeyPolicy: hostKeyPolicy, connectTimeout: connectTimeout,
      jump: jump.map {
        SSHJump(
          address: $0.host, port: $0.port, user: $0.user ?? user, identity: identity,
          knownHostsFile: knownHostsFile, hostKeyPolicy: hostKeyPolicy, connectTimeout: connectTimeout)
      })
  }
}

extension ResolvedPlan {
  /// What `docker run` gets on this host for one release. `image` should be pinned by digest;
  /// `envFile` is the host path of the 0600 file holding the secrets, if there are any.
  public func runSpec(image: ImageReference, release: String, envFile: String? = nil) -> ContainerRunSpec {
    var spec = ContainerRunSpec(
      name: container.name, image: image, ports: container.ports, volumes: container.volumes,
      env: container.env,
      envFile: envFile, command: container.command ?? [], restart: container.restart,
      stopTimeout: container.stopTimeout, log: container.log, app: app, environment: environment,
      release: release, extraLabels: container.labels, options: container.options)
    spec.secretNames = container.secrets
    return spec
  }

  /// What `--image` names, with this plan's repository for a bare tag or digest.
  public func imageReference(_ argument: String) throws(DockerError) -> ImageReference {
    try ImageReference.parse(argument, defaultRepository: image.name)
  }
}

extension HealthSpec {
  /// The health layer's policy with this plan's interval, timeout, retries and start period.
  public func policy() throws(HealthError) -> HealthPolicy {
    try HealthPolicy(interval: interval, timeout: timeout, retries: retries, startPeriod: startPeriod)
  }
}

extension HTTPHealthSpec {
  /// `http://address:port/path` for a check `via: direct`, or `127.0.0.1` on the host itself.
  public func url(host: String) -> String {
    HTTPProbe.url(host: host, port: port, path: path)
  }

  /// The probe this check makes against `url` (which `HealthSpec.Via.reach` gives).
  func probe(at url: String, timeout: Duration) throws(HealthError) -> HTTPProbe {
    try HTTPProbe(url: url, expectStatus: expectStatus, bodyContains: bodyContains, timeout: timeout)
  }
}
