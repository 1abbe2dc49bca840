import DeployConfig

// The login belongs to the engine: a missing secret refuses the run with `RolloutError`.
extension RegistrySpec {
  /// The credentials, from deployctl's environment; a missing value refuses the run (exit 2)
  /// with the message every missing secret gets.
  public func login(for image: ImageRepository, environment: [String: String]) throws(RolloutError)
    -> RegistryLogin
  {
    let missing = secretNames.filter { environment[$0] == nil }
    let user: String?
    switch username {
    case .literal(let name): user = name
    case .secret(let name): user = environment[name]
    }
    guard missing.isEmpty, let user, let password = environment[passwordSecret] else {
      throw .secretsNotSet(missing)
    }
    return RegistryLogin(server: server ?? image.registry ?? "docker.io", username: user, password: password)
  }
}
