import Foundation
import Testing

@testable import DeployConfig
@testable import DeployKit

@Suite struct YAMLTests {
  func parse(_ text: String) throws -> YAMLNode {
    try YAML.parse(text, file: "f.yml")
  }

  func refusal(_ text: String, limits: YAMLLimits = .default) -> YAMLError? {
    do {
      _ = try YAML.parse(text, file: "f.yml", limits: limits)
      return nil
    } catch {
      return error
    }
  }

  @Test func nodesCarryOneBasedPositions() throws {
    let root = try parse(
      """
      app: web
      ports:
        - "8080"
        - 25
      nested: {a: 1, b: [x, 'y']}
      """)
    #expect(root.location == SourceLocation(file: "f.yml", line: 1, column: 1))
    let pairs = try #require(root.mapping)
    #expect(pairs.map { $0.key.scalar?.text } == ["app", "ports", "nested"])
    #expect(pairs[0].key.location.line == 1 && pairs[0].key.location.column == 1)
    #expect(pairs[0].value.location.line == 1 && pairs[0].value.location.column == 6)
    let ports = try #require(root["ports"]?.sequence)
    #expect(root["ports"]?.location.line == 3 && root["ports"]?.location.column == 3)
    #expect(ports[0].scalar == YAMLScalar("8080", style: .doubleQuoted))
    #expect(!ports[0].isPlainScalar)
    #expect(ports[1].scalar == YAMLScalar("25", style: .plain))
    #expect(ports[1].isPlainScalar)
    #expect(ports[1].location.line == 4 && ports[1].location.column == 5)
    let nested = try #require(root["nested"])
    #expect(nested.location.line == 5 && nested.location.column == 9)
    #expect(nested.mapping?[1].key.location.column == 16)
    let b = try #require(nested["b"]?.sequence)
    #expect(b[1].scalar == YAMLScalar("y", style: .singleQuoted))
    #expect(b[1].location.column == 23)
  }

  @Test func columnsCountCharactersNotBytes() throws {
    let root = try parse("name: \"héllo\"\nnext: été\nlast: x")
    #expect(root["next"]?.location.column == 7)
    #expect(root["next"]?.scalar?.text == "été")
    #expect(root["last"]?.location.line == 3)
  }

  @Test func nullsAndTags() throws {
    let root = try parse("a:\nb: ~\nc: null\nd: \"\"\ne: !!str 25\n")
    #expect(root["a"]?.isNull == true)
    #expect(root["b"]?.isNull == true)
    #expect(root["c"]?.isNull == true)
    #expect(root["d"]?.isNull == false)
    #expect(root["e"]?.tag == "tag:yaml.org,2002:str")
    #expect(root["e"]?.isPlainScalar == false)
  }

  @Test func emptyFileIsNull() throws {
    let root = try parse("")
    #expect(root.isNull)
    #expect(root.location.line == 1)
  }

  @Test func aliasesCopyTheAnchoredNode() throws {
    let root = try parse(
      """
      base: &b
        x: 1
        y: [a, b]
      other: *b
      scalar: &s hello
      again: *s
      """)
    #expect(root["other"] == root["base"])
    // An alias keeps the anchored node's position: the place to edit. A block node with an
    // anchor starts at its anchor.
    #expect(root["other"]?.location == SourceLocation(file: "f.yml", line: 1, column: 7))
    #expect(root["again"]?.scalar?.text == "hello")
  }

  @Test func mergeKeysFillInWhatTheMappingDoesNotSet() throws {
    let root = try parse(
      """
      defaults: &d {user: deploy, port: 22}
      extra: &e {port: 2200, jump: bastion}
      host:
        <<: [*d, *e]
        port: 2222
      """)
    let host = try #require(root["host"]?.mapping)
    #expect(host.map { $0.key.scalar?.text } == ["user", "jump", "port"])
    #expect(root["host"]?["port"]?.scalar?.text == "2222")
    #expect(root["host"]?["user"]?.scalar?.text == "deploy")
    #expect(refusal("a: {<<: 3}")?.kind == .invalidMerge)
  }

  @Test func refusesASecondDocument() throws {
    let error = try #require(refusal("a: 1\n---\nb: 2\n"))
    #expect(error.kind == .multipleDocuments)
    #expect(error.location == SourceLocation(file: "f.yml", line: 2, column: 1))
  }

  @Test func refusesNestingDeeperThan64() throws {
    let ok = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
    #expect(refusal(ok) == nil)
    let deep = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
    let error = try #require(refusal(deep))
    #expect(error.kind == .tooDeep)
    #expect(error.location.line == 1 && error.location.column == 65)
    #expect(error.description.contains("64"))
  }

  @Test func refusesAnAliasThatWouldNestTooDeep() throws {
    let inner = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
    let text =
      "a: &a \(inner)\nb: " + String(repeating: "[", count: 30) + "*a" + String(repeating: "]", count: 30)
    #expect(refusal(text)?.kind == .tooDeep)
  }

  @Test func refusesABillionLaughs() throws {
    var text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for i in 1...9 {
      let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
      text += "a\(i): &a\(i) [\(refs)]\n"
    }
    let error = try #require(refusal(text))
    #expect(error.kind == .tooManyNodes)
    #expect(error.message.contains("alias"))
    // The node limit is reached within the expansion of a5 (10^5 nodes), long before a9.
    #expect(error.location.line <= 6)
  }

  @Test func refusesTooManyPlainNodes() throws {
    let text = "[" + Array(repeating: "x", count: 200).joined(separator: ",") + "]"
    #expect(refusal(text, limits: YAMLLimits(maxNodes: 100))?.kind == .tooManyNodes)
  }

  @Test func refusesFilesOverOneMebibyte() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("yaml-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let big = dir.appendingPathComponent("big.yml")
    let line = "# " + String(repeating: "x", count: 1021) + "\n"  // 1 KiB
    try String(repeating: line, count: 1025).write(to: big, atomically: true, encoding: .utf8)
    do {
      _ = try YAML.load(path: big.path, file: "big.yml")
      Issue.record("a 1025 KiB file was accepted")
    } catch {
      #expect(error.kind == .tooLarge)
      #expect(error.location == SourceLocation(file: "big.yml"))
    }
    let small = dir.appendingPathComponent("small.yml")
    try "a: 1\n".write(to: small, atomically: true, encoding: .utf8)
    #expect(try YAML.load(path: small.path)["a"]?.scalar?.text == "1")
    #expect(
      YAMLTests.loadError(dir.appendingPathComponent("missing.yml").path)?.kind == .unreadable)
    #expect(YAMLTests.loadError(dir.path)?.kind == .unreadable)
  }

  static func loadError(_ path: String) -> YAMLError? {
    do {
      _ = try YAML.load(path: path)
      return nil
    } catch {
      return error
    }
  }

  @Test func refusesInvalidUTF8WithItsPosition() throws {
    var bytes = Array("a: b\nc: x".utf8)
    bytes.append(0xFF)
    do {
      _ = try YAML.parse(bytes, file: "f.yml")
      Issue.record("invalid UTF-8 accepted")
    } catch {
      #expect(error.kind == .invalidUTF8)
      #expect(error.location == SourceLocation(file: "f.yml", line: 2, column: 5))
    }
    // Overlong encodings and surrogates are invalid too.
    #expect(YAML.firstInvalidUTF8([0x61, 0xC0, 0xAF]) == 1)
    #expect(YAML.firstInvalidUTF8([0xED, 0xA0, 0x80]) == 0)
    #expect(YAML.firstInvalidUTF8(Array("héllo ✓ 🚀".utf8)) == nil)
  }

  @Test func refusesDuplicateKeysWithBothPositions() throws {
    let error = try #require(refusal("a: 1\nb:\n  c: 1\n  c: 2\n"))
    #expect(error.kind == .duplicateKey)
    #expect(error.location == SourceLocation(file: "f.yml", line: 4, column: 3))
    #expect(error.message.contains("line 3, column 3"))
    let document = try YAML.parseDocument(Array("x: 1\nx: 2\ny: 3\ny: 4\n".utf8), file: "f.yml")
    #expect(document.duplicateKeys.map(\.location.line) == [2, 4])
    #expect(document.root["x"]?.scalar?.text == "1")
  }

  @Test func reportsLibyamlErrorsWithTheirPositionAndProblem() throws {
    let unclosed = try #require(refusal("a: [1, 2\nb: 3\n"))
    #expect(unclosed.kind == .syntax)
    #expect(unclosed.location == SourceLocation(file: "f.yml", line: 2, column: 2))
    #expect(unclosed.message.contains("did not find expected ',' or ']'"))
    #expect(unclosed.message.contains("line 1, column 4"))
    let tab = try #require(refusal("a:\n\tb: 1\n"))
    #expect(tab.kind == .syntax)
    #expect(tab.message.contains("tabs"))
    let colon = try #require(refusal("a: b: c\n"))
    #expect(colon.location.line == 1 && colon.location.column == 5)
    #expect(colon.description == "f.yml:1:5: error: mapping values are not allowed in this context")
  }

  @Test func refusesUnknownAndSelfReferencingAliases() throws {
    #expect(refusal("a: *nope\n")?.kind == .unknownAlias)
    let own = try #require(refusal("a: &x [1, *x]\n"))
    #expect(own.kind == .unknownAlias)
    #expect(own.message.contains("contains it"))
  }

  @Test func errorsAreRefusals() throws {
    let error = try #require(refusal("a: 1\n---\n"))
    #expect(error.exitStatus == .refused)
  }
}
