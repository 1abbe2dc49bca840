import DeployConfig
import Foundation

/// What shell completion offers (`deployctl --generate-completion-script bash|zsh|fish`):
/// environment names and host names read from the inventories folder of the command line being
/// completed (`--inventories DIR`, else `./inventories`). Files that do not parse are skipped:
/// completion never fails, it only offers less.
public enum CompletionCandidates {
  /// The folder the words name with `--inventories DIR` or `--inventories=DIR`.
  public static func inventoriesDirectory(in words: [String]) -> String {
    for (index, word) in words.enumerated() {
      if word == "--inventories", index + 1 < words.count { return unquoted(words[index + 1]) }
      if word.hasPrefix("--inventories=") { return unquoted(String(word.dropFirst("--inventories=".count))) }
    }
    return "./inventories"
  }

  /// `<env>` of every `<env>.yml` in the inventories folder, sorted.
  public static func environments(words: [String], prefix: String = "") -> [String] {
    let directory = inventoriesDirectory(in: words)
    // Shell completion offers what it can and never prints an error into the user's prompt.
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    return files.filter { $0.hasSuffix(".yml") }.map { String($0.dropLast(4)) }
      .filter { !$0.hasPrefix(".") && $0.hasPrefix(prefix) }.sorted()
  }

  /// The host names (keys under `hosts:`) of the environment named in the words, or of every
  /// environment when none is named yet; for `--limit`.
  public static func hosts(words: [String], prefix: String = "") -> [String] {
    let directory = inventoriesDirectory(in: words)
    let all = environments(words: words)
    let named = all.filter { words.contains($0) }
    var names: [String] = []
    for environment in named.isEmpty ? all : named {
      let path = (directory as NSString).appendingPathComponent("\(environment).yml")
      // As above: an unreadable inventory offers no hosts; `validate` says why.
      guard let bytes = try? YAML.readFile(path: path, file: path),
        let document = try? YAML.parseDocument(bytes, file: path),
        let hosts = document.root["hosts"]?.mapping
      else { continue }
      names += hosts.compactMap { $0.key.scalar?.text }
    }
    // `--limit a,b,c`: complete the last name after a comma.
    let done = prefix.split(separator: ",", omittingEmptySubsequences: false).dropLast().map(String.init)
    let last = prefix.split(separator: ",", omittingEmptySubsequences: false).last.map(String.init) ?? ""
    let head = done.isEmpty ? "" : done.joined(separator: ",") + ","
    var seen = Set<String>()
    return names.filter { $0.hasPrefix(last) && !done.contains($0) && seen.insert($0).inserted }
      .map { head + $0 }
  }

  private static func unquoted(_ word: String) -> String {
    var text = word
    for quote in ["'", "\""] where text.count >= 2 && text.hasPrefix(quote) && text.hasSuffix(quote) {
      text = String(text.dropFirst().dropLast())
    }
    return (text as NSString).expandingTildeInPath
  }
}
