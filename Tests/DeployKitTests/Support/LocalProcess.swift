import Foundation
import TestSupport

#if canImport(Glibc)
  import Glibc
#endif

/// Runs a local program to completion and captures its output (TestSupport's `runCapturing`).
/// Tests use it to feed the shell snippets we build to a real `/bin/sh`, exactly as a remote
/// sshd would.
enum LocalProcess {
  static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) async throws
    -> ProgramResult
  {
    try await runCapturing(executable, arguments, in: directory?.path)
  }

  /// `/bin/sh -c script`.
  static func sh(_ script: String, in directory: URL? = nil) async throws -> ProgramResult {
    try await run("/bin/sh", ["-c", script], in: directory)
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
