import DeployConfig
import DeployTransport
import Foundation

/// `release_command` on a Docker host (docs/configuration.md "Release command"): a throwaway
/// container of the new image (`docker run --rm`, a name of its own) with the app's env, env
/// file, volumes, network and other options, but no published port and no restart policy. Its
/// output is shown as it comes, host-prefixed (the progress log masks secrets). A timeout or a
/// stop request removes the container (`docker rm -f`), which ends `docker run`.
extension DockerHost {
  public func runRelease(_ install: InstallPlan, command: ReleaseCommandSpec) async throws {
    let spec = install.release.container
    let name = Self.releaseContainerName(spec)
    var setup = RemoteScript()
    var needsSetup = false
    if let envFile = install.envFile, let path = spec.envFile {
      // The same file `install` writes for this release: the command sees the same secrets.
      setup.section("env-file", HostState.writePrivate(envFile, to: path, in: paths.secretsDirectory))
      needsSetup = true
    }
    if let network = spec.options.network {
      setup.section("network", DockerCommand.requireNetworks([network]))
      needsSetup = true
    }
    if needsSetup { _ = try await remote.run("release command (prepare)", setup, timeout: .seconds(60)) }
    let run = RemoteCommand(Self.releaseArguments(spec, name: name, command: command.command))
    await progress.host(self.name, "release command", .note(ShellQuote.join(command.command)))
    let ending = try await remote.step("release command") {
      try await runUntilDone(run, container: name, timeout: command.timeout)
    }
    switch ending {
    case .exited(let result) where result.succeeded:
      return
    case .exited(let result):
      await forgetEnvFile(spec)
      throw RolloutError.stepFailed(
        host: self.name, step: "release command", exitStatus: result.exitStatus,
        output: "\(ShellQuote.join(command.command)) exited \(result.exitStatus); nothing was changed")
    case .stopped(let why):
      await forgetEnvFile(spec)
      throw RolloutError.stepFailed(
        host: self.name, step: "release command", exitStatus: -1,
        output: "\(why): its container \(name) was removed; nothing was changed")
    }
  }

  /// How the command's `docker run` ended.
  enum ReleaseEnding: Sendable {
    case exited(ExecResult)
    /// Timed out or interrupted: the container was removed.
    case stopped(String)
  }

  /// Runs `run` on a channel of its own, its lines shown as they come, until it exits, `timeout`
  /// passes or a stop is requested; in the last two cases the container is removed first, and
  /// `docker run` is waited for (it ends once its container is gone).
  private func runUntilDone(_ run: RemoteCommand, container: String, timeout: Duration) async throws
    -> ReleaseEnding
  {
    let host = name
    let progress = progress
    let transport = remote.transport
    let stop = stop
    let deadline = ContinuousClock.now + timeout
    // Lines are said in the order they came, and all of them before this returns.
    let (lines, sink) = AsyncStream.makeStream(of: String.self)
    let printer = Task { for await line in lines { await progress.host(host, "release", .note(line)) } }
    defer { sink.finish() }
    let ending = try await withThrowingTaskGroup(of: ReleaseEnding?.self) { group in
      group.addTask {
        let result = try await transport.exec(run, timeout: nil) { sink.yield($0.text) }
        return .exited(result)
      }
      group.addTask {
        let signal = await stop.wait(until: deadline)
        if Task.isCancelled { return nil }
        return .stopped(signal.map { "interrupted by \($0)" } ?? "timed out after \(timeout.configText)")
      }
      guard let first = try await group.next() ?? nil else {
        throw CancellationError()
      }
      if case .exited = first {
        group.cancelAll()
        return first
      }
      await progress.host(host, "release command", .note("\(first): removing its container \(container)"))
      _ = try await transport.exec(
        RemoteCommand(["docker", "rm", "--force", container]), timeout: .seconds(60), onLine: nil)
      // `docker run` ends now that its container is gone; its exit status says nothing more.
      while let next = try await group.next() {
        if case .exited = next { break }
      }
      return first
    }
    sink.finish()
    await printer.value
    return ending
  }

  /// Removes the env file written for a release that never ran (it holds the secrets). Best
  /// effort: the failure being reported matters more than this file.
  private func forgetEnvFile(_ spec: ContainerRunSpec) async {
    guard let path = spec.envFile else { return }
    _ = try? await remote.exec(RemoteCommand(["rm", "-f", path]), timeout: .seconds(20))
  }

  /// `<name>-release-<release id>`: unique per run, and never the app's own container's name.
  static func releaseContainerName(_ spec: ContainerRunSpec) -> String {
    "\(spec.name)-release-\(spec.release)"
  }

  /// `docker run --rm` for the release command: the app's container without its ports, restart
  /// policy or deployctl's release label (it is not a release), the command after the image.
  static func releaseArguments(_ spec: ContainerRunSpec, name: String, command: [String]) -> [String] {
    var argv = ["docker", "run", "--rm", "--name", name]
    argv += ["--label", "\(ContainerRunSpec.appLabel)=\(spec.app)"]
    argv += ["--label", "\(ContainerRunSpec.environmentLabel)=\(spec.environment)"]
    if spec.initProcess == true { argv.append("--init") }
    if let log = spec.log {
      argv += [
        "--log-driver", "json-file", "--log-opt", "max-size=\(log.maxSize)", "--log-opt",
        "max-file=\(log.maxFiles)",
      ]
    }
    for volume in spec.volumes { argv += ["--volume", volume.argument] }
    if let envFile = spec.envFile { argv += ["--env-file", envFile] }
    for variable in spec.env { argv += ["--env", "\(variable.name)=\(variable.value)"] }
    argv += spec.options.arguments
    argv.append(spec.image.pinned ?? spec.image.description)
    return argv + spec.options.commandPrefix + command
  }
}
