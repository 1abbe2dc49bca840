import CYAML

/// One libyaml event, copied out of libyaml's memory so it outlives `yaml_event_delete`.
struct YAMLEvent {
  enum Kind {
    case streamStart
    case streamEnd
    case documentStart
    case documentEnd
    case alias(anchor: String)
    case scalar(YAMLScalar, anchor: String?, tag: String?)
    case sequenceStart(anchor: String?, tag: String?)
    case sequenceEnd
    case mappingStart(anchor: String?, tag: String?)
    case mappingEnd
  }

  var kind: Kind
  /// 1-based, as editors show it.
  var line: Int
  var column: Int
}

/// Owns one `yaml_parser_t` and the bytes it reads, and frees both. Not shared between
/// threads: a parse runs start to end on one.
final class LibYAMLParser {
  /// What libyaml reported when it refused the text, already 1-based.
  struct Failure: Error {
    var line: Int
    var column: Int
    /// Byte offset, for reader errors (bad encoding) that have no line and column.
    var offset: Int?
    var message: String
  }

  private let parser: UnsafeMutablePointer<yaml_parser_t>
  private let input: UnsafeMutableBufferPointer<UInt8>

  init(bytes: some Collection<UInt8>) {
    parser = .allocate(capacity: 1)
    // libyaml reads from this buffer until the parser is deleted, so it is ours to keep.
    input = .allocate(capacity: max(bytes.count, 1))
    _ = input.initialize(from: bytes)
    // yaml_parser_initialize fails only when malloc does; then nothing more can work anyway.
    guard yaml_parser_initialize(parser) == 1 else {
      fatalError("libyaml could not allocate a parser")
    }
    yaml_parser_set_input_string(parser, input.baseAddress, bytes.count)
    yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
  }

  deinit {
    yaml_parser_delete(parser)
    parser.deallocate()
    input.deallocate()
  }

  func next() throws(Failure) -> YAMLEvent {
    var event = yaml_event_t()
    guard yaml_parser_parse(parser, &event) == 1 else { throw failure() }
    defer { yaml_event_delete(&event) }
    let line = Int(event.start_mark.line) + 1
    let column = Int(event.start_mark.column) + 1
    let kind: YAMLEvent.Kind
    switch event.type {
    case YAML_STREAM_START_EVENT: kind = .streamStart
    case YAML_STREAM_END_EVENT: kind = .streamEnd
    case YAML_DOCUMENT_START_EVENT: kind = .documentStart
    case YAML_DOCUMENT_END_EVENT: kind = .documentEnd
    case YAML_ALIAS_EVENT:
      kind = .alias(anchor: Self.string(event.data.alias.anchor) ?? "")
    case YAML_SCALAR_EVENT:
      let s = event.data.scalar
      let text = String(decoding: UnsafeBufferPointer(start: s.value, count: Int(s.length)), as: UTF8.self)
      kind = .scalar(
        YAMLScalar(text, style: Self.style(s.style)), anchor: Self.string(s.anchor), tag: Self.string(s.tag))
    case YAML_SEQUENCE_START_EVENT:
      let s = event.data.sequence_start
      kind = .sequenceStart(anchor: Self.string(s.anchor), tag: Self.string(s.tag))
    case YAML_SEQUENCE_END_EVENT: kind = .sequenceEnd
    case YAML_MAPPING_START_EVENT:
      let m = event.data.mapping_start
      kind = .mappingStart(anchor: Self.string(m.anchor), tag: Self.string(m.tag))
    case YAML_MAPPING_END_EVENT: kind = .mappingEnd
    default:
      // YAML_NO_EVENT: libyaml returns it only after the stream has ended.
      kind = .streamEnd
    }
    return YAMLEvent(kind: kind, line: line, column: column)
  }

  private func failure() -> Failure {
    let p = parser.pointee
    let problem = p.problem.map { String(cString: $0) } ?? "unknown libyaml error"
    if p.error == YAML_READER_ERROR {
      return Failure(line: 0, column: 0, offset: Int(p.problem_offset), message: problem)
    }
    if p.error == YAML_MEMORY_ERROR {
      return Failure(line: 0, column: 0, offset: nil, message: "libyaml ran out of memory")
    }
    var message = problem
    if let context = p.context.map({ String(cString: $0) }),
      p.context_mark.line != p.problem_mark.line || p.context_mark.column != p.problem_mark.column
    {
      message +=
        " \(context) (which starts at line \(p.context_mark.line + 1), column \(p.context_mark.column + 1))"
    } else if let context = p.context.map({ String(cString: $0) }) {
      message += " \(context)"
    }
    return Failure(
      line: Int(p.problem_mark.line) + 1, column: Int(p.problem_mark.column) + 1, offset: nil,
      message: message)
  }

  private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
    pointer.map { String(cString: $0) }
  }

  private static func style(_ style: yaml_scalar_style_t) -> YAMLScalar.Style {
    switch style {
    case YAML_SINGLE_QUOTED_SCALAR_STYLE: .singleQuoted
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: .doubleQuoted
    case YAML_LITERAL_SCALAR_STYLE: .literal
    case YAML_FOLDED_SCALAR_STYLE: .folded
    default: .plain
    }
  }
}
