import Foundation

/// The built `deployctl` binary, run as a user would run it.
enum Deployctl {
  struct Result: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
  }

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
  static func binary() throws -> URL {
    let runner = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    let candidates = [
      runner.deletingLastPathComponent().appendingPathComponent("deployctl"),
      packageRoot.appendingPathComponent(".build/debug/deployctl"),
    ]
    if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) {
      return found
    }
    return try builtOnce.get()
  }

  private static let builtOnce: Swift.Result<URL, Failure> = {
    let scratch = packageRoot.appendingPathComponent(".build-deployctl-tests")
    do {
      let build = try run(
        URL(fileURLWithPath: "/usr/bin/env"),
        ["swift", "build", "--product", "deployctl", "--scratch-path", scratch.path], in: packageRoot,
        timeout: .seconds(1200))
      guard build.status == 0 else {
        return .failure(Failure(description: "swift build failed:\n\(build.stdout)\n\(build.stderr)"))
      }
      return .success(scratch.appendingPathComponent("debug/deployctl"))
    } catch {
      return .failure(Failure(description: "cannot build deployctl: \(error)"))
    }
  }()

  /// Runs `deployctl arguments…` in `directory` and waits at most `timeout`.
  static func run(
    _ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil,
    timeout: Duration = .seconds(120)
  ) throws -> Result {
    try run(binary(), arguments, in: directory, environment: environment, timeout: timeout)
  }

  static func run(
    _ executable: URL, _ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil,
    timeout: Duration
  ) throws -> Result {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    if let environment { process.environment = environment }
    // Output goes to files, not pipes: a daemon another test starts at the same moment can
    // inherit a pipe's write end, and a read to end-of-file would then wait on it.
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "deployctl-out-\(UUID().uuidString)")
    try FileManager.default.createDirectory(
      at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    defer { try? FileManager.default.removeItem(at: folder) }
    let outURL = folder.appendingPathComponent("stdout")
    let errURL = folder.appendingPathComponent("stderr")
    try Data().write(to: outURL)
    try Data().write(to: errURL)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    defer {
      try? out.close()
      try? err.close()
    }
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    try process.run()
    let seconds = Double(timeout.components.seconds)
    if exited.wait(timeout: .now() + seconds) == .timedOut {
      process.terminate()
      _ = exited.wait(timeout: .now() + 10)
      throw Failure(
        description: "deployctl \(arguments.joined(separator: " ")) did not finish within \(timeout)")
    }
    let stdout = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
    let stderr = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
    return Result(status: process.terminationStatus, stdout: stdout, stderr: stderr)
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
