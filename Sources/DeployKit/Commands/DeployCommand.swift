import DeployConfig
import DeployEngine
import Foundation

/// `deployctl deploy ENV --image REF`: REF (a tag is resolved once) on every host of ENV.
public struct DeployCommand: Sendable {
  public var environment: String
  public var image: String
  public var dryRun: Bool
  public var selection: ProjectSelection
  /// `--lock-wait`: how long to wait for another run's lock.
  public var lockWait: Duration?

  public init(environment: String, image: String, dryRun: Bool = false, selection: ProjectSelection) {
    self.environment = environment
    self.image = image
    self.dryRun = dryRun
    self.selection = selection
  }

  public func run(on console: CommandConsole) async -> CommandExit {
    let plan: EnvironmentPlan
    var reference: ImageReference?
    switch selection.plan(
      environment, for: "deploy", on: console,
      then: { plan in reference = try ImageReference.parse(image, defaultRepository: plan.image.name) })
    {
    case .success(let loaded): plan = loaded
    case .failure(let exit): return exit
    }
    guard let reference else { return CommandExit(.refused) }
    let secrets = selection.secrets(for: plan)
    let stop = StopRequest()
    stop.installSignalHandlers()
    var request = RolloutRequest(
      kind: .deploy(reference), plan: plan, parallel: selection.parallel, dryRun: dryRun, secrets: secrets,
      user: Invocation.user(), commandLine: "deploy \(environment) --image \(image)")
    request.lockWait = lockWait
    let report = await Rollout(
      request: request, progress: console.progress(secrets: Array(secrets.values)), stop: stop
    ).run()
    return console.finish(report, secrets: Array(secrets.values))
  }
}
