import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Runs a local program to completion and captures its output. Tests use it to feed the
/// shell snippets we build to a real `/bin/sh`, exactly as a remote sshd would.
struct LocalProcess {
  struct Result: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// Output goes to files, not pipes: a daemon another test starts at the same moment can
  /// inherit a pipe's write end and keep it open, and a read to end-of-file would then never
  /// return. The exit is awaited through the termination handler instead.
  static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> Result {
    let capture = try Capture()
    defer { capture.remove() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    process.standardOutput = capture.stdout
    process.standardError = capture.stderr
    process.standardInput = FileHandle.nullDevice
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    try process.run()
    exited.wait()
    return Result(status: process.terminationStatus, stdout: capture.readOut(), stderr: capture.readErr())
  }

  /// `/bin/sh -c script`.
  static func sh(_ script: String, in directory: URL? = nil) throws -> Result {
    try run("/bin/sh", ["-c", script], in: directory)
  }
}

/// Two files in a private folder that stand in for a child's stdout and stderr.
final class Capture {
  let folder: URL
  let stdout: FileHandle
  let stderr: FileHandle

  init() throws {
    folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "deployctl-capture-\(UUID().uuidString)")
    try FileManager.default.createDirectory(
      at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    try Data().write(to: folder.appendingPathComponent("out"))
    try Data().write(to: folder.appendingPathComponent("err"))
    stdout = try FileHandle(forWritingTo: folder.appendingPathComponent("out"))
    stderr = try FileHandle(forWritingTo: folder.appendingPathComponent("err"))
  }

  func readOut() -> String { read("out") }
  func readErr() -> String { read("err") }

  private func read(_ name: String) -> String {
    (try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)) ?? ""
  }

  func remove() {
    try? stdout.close()
    try? stderr.close()
    try? FileManager.default.removeItem(at: folder)
  }
}

/// A fresh directory under the system temp dir, removed by `remove()`.
struct TemporaryDirectory {
  let url: URL
  var path: String { url.path }

  init() throws {
    url = FileManager.default.temporaryDirectory
      .appendingPathComponent("deployctl-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  func remove() {
    try? FileManager.default.removeItem(at: url)
  }
}

/// Writes a script through an O_CLOEXEC descriptor. Tests run in parallel threads that spawn
/// processes; a child forked while our write descriptor is open would otherwise keep it, and
/// exec'ing the script would then fail now and then with ETXTBSY ("text file busy"; busybox
/// httpd turns that into a 404 for a CGI script).
func writeExecutable(_ path: String, _ text: String) throws {
  let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
  guard fd >= 0 else { throw FixtureError("open \(path): \(String(cString: strerror(errno)))") }
  defer { close(fd) }
  let bytes = Array(text.utf8)
  guard write(fd, bytes, bytes.count) == bytes.count else {
    throw FixtureError("write \(path): \(String(cString: strerror(errno)))")
  }
}
