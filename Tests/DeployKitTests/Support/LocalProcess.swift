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

  static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> Result {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    // Read both pipes before waiting, on two threads, so a chatty child cannot fill one pipe
    // and stall while we wait on the other.
    let errData = DataBox()
    let errRead = DispatchSemaphore(value: 0)
    let reader = Thread {
      errData.set(err.fileHandleForReading.readDataToEndOfFile())
      errRead.signal()
    }
    reader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    errRead.wait()
    return Result(
      status: process.terminationStatus,
      stdout: String(decoding: outData, as: UTF8.self),
      stderr: String(decoding: errData.get(), as: UTF8.self))
  }

  /// `/bin/sh -c script`.
  static func sh(_ script: String, in directory: URL? = nil) throws -> Result {
    try run("/bin/sh", ["-c", script], in: directory)
  }
}

private final class DataBox: @unchecked Sendable {
  private let lock = NSLock()
  private var data = Data()
  func set(_ value: Data) { lock.withLock { data = value } }
  func get() -> Data { lock.withLock { data } }
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
