import Foundation
import TestSupport

/// The built `deployctl` binary, run as a user would run it.
enum Deployctl {
  struct Failure: Error, CustomStringConvertible {
    var description: String
  }

  /// The package root, from this file's place in it (Tests/DeployctlTests/Support/).
  static let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// `swift test` builds every target, so the binary normally sits next to the test bundle or
  /// in `.build/debug`. When it does not (tests run from elsewhere), it is built once into a
  /// scratch folder of its own, so it never waits on the `.build` lock `swift test` holds.
  static func binary() async throws -> URL {
    let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let candidates = [
      runner.deletingLastPathComponent().appendingPathComponent("deployctl"),
      packageRoot.appendingPathComponent(".build/debug/deployctl"),
    ]
    if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) {
      return found
    }
    return try await builtOnce.value
  }

  /// Started by the first caller that needs it; every caller awaits the same build.
  private static let builtOnce = Task<URL, any Error> {
    let scratch = packageRoot.appendingPathComponent(".build-deployctl-tests")
    let build = try await runCapturing(
      "/usr/bin/env", ["swift", "build", "--product", "deployctl", "--scratch-path", scratch.path],
      in: packageRoot.path, timeout: .seconds(1200))
    guard build.status == 0 else {
      throw Failure(description: "swift build failed:\n\(build.stdout)\n\(build.stderr)")
    }
    return scratch.appendingPathComponent("debug/deployctl")
  }

  /// Runs `deployctl arguments…` in `directory` and waits at most `timeout` (then it is
  /// stopped and this throws). `environment` replaces the test process's.
  static func run(
    _ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil,
    timeout: Duration = .seconds(120)
  ) async throws -> ProgramResult {
    let result = try await runCapturing(
      binary().path, arguments, environment: environment, in: directory?.path, timeout: timeout)
    guard !result.timedOut else {
      throw Failure(
        description: "deployctl \(arguments.joined(separator: " ")) did not finish within \(timeout)")
    }
    return result
  }
}

/// A folder under the system temp dir, removed when the value goes away.
final class TemporaryFolder {
  let url: URL

  init() throws {
    url = FileManager.default.temporaryDirectory.appendingPathComponent("deployctl-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  deinit {
    try? FileManager.default.removeItem(at: url)
  }

  func write(_ relative: String, _ text: String) throws {
    let file = url.appendingPathComponent(relative)
    try FileManager.default.createDirectory(
      at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
    try text.write(to: file, atomically: true, encoding: .utf8)
  }

  /// Copies a folder of the repository (e.g. `inventories`) into this one.
  func copy(fromRepository relative: String) throws {
    try FileManager.default.copyItem(
      at: Deployctl.packageRoot.appendingPathComponent(relative), to: url.appendingPathComponent(relative))
  }
}
