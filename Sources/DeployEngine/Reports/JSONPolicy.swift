import DeployConfig
import Foundation

/// The one way deployctl writes JSON for people and programs: every document of `--output json`,
/// the report file and the notifications' bodies (docs/json.md).
///
/// - Keys are the snake_case names the types' `CodingKeys` give (`exit_code`, `duration_ms`),
///   sorted, indented, with `/` left unescaped.
/// - A nil optional is written as `null`, so scripts can rely on every key being present. The
///   types keep Swift's synthesized `Codable`: this encoder turns the `encodeIfPresent` it calls
///   into `null`. A key that exists only where it applies (`tasks` of a Swarm host, `holder` of
///   a lock takeover) is declared `@OmittedWhenNil` instead.
/// - Times are RFC 3339 UTC with milliseconds (`2026-11-21T17:15:30.123Z`), as on the hosts.
public enum JSONPolicy {
  /// `value` as a JSON document.
  public static func document(_ value: some Encodable) -> String {
    do {
      return String(decoding: try encoder().encode(ExplicitNulls(value)), as: UTF8.self)
    } catch {
      // JSONEncoder fails only for a number JSON cannot hold (written as text here, see
      // `encoder()`) or a top-level value that writes nothing, which no report type does.
      preconditionFailure("\(type(of: value)) cannot be written as JSON: \(error)")
    }
  }

  static func encoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .custom { date, encoder in
      var container = encoder.singleValueContainer()
      try container.encode(HostStateJSON.format(date))
    }
    // A load test's rate over no time at all must not cost the whole document.
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
    return encoder
  }

  /// A value the encoder must see as itself (it has a strategy for it), not through the box.
  fileprivate static func boxed<T: Encodable>(_ value: T) -> any Encodable {
    switch value {
    case is Date, is Data, is URL, is Decimal: value
    default: ExplicitNulls(value)
    }
  }
}

extension Encodable {
  /// This value as a JSON document, by `JSONPolicy`.
  public func jsonString() -> String { JSONPolicy.document(self) }
}

/// A report field written only when it holds a value (every other nil is `null`, see
/// `JSONPolicy`), and read back as nil when its key is absent.
@propertyWrapper
public struct OmittedWhenNil<Value: Codable>: Codable {
  public var wrappedValue: Value?

  public init(wrappedValue: Value?) {
    self.wrappedValue = wrappedValue
  }

  public init(from decoder: any Decoder) throws {
    wrappedValue = try Value?(from: decoder)
  }

  public func encode(to encoder: any Encoder) throws {
    try wrappedValue.encode(to: encoder)
  }
}

extension OmittedWhenNil: Sendable where Value: Sendable {}
extension OmittedWhenNil: Equatable where Value: Equatable {}

extension KeyedEncodingContainer {
  /// Synthesized `encode(to:)` calls this for an `@OmittedWhenNil` field: no key when nil.
  public mutating func encode<Value>(_ field: OmittedWhenNil<Value>, forKey key: Key) throws {
    if let value = field.wrappedValue { try encode(value, forKey: key) }
  }
}

extension KeyedDecodingContainer {
  /// Synthesized `init(from:)` calls this for an `@OmittedWhenNil` field: nil when absent.
  public func decode<Value>(_ type: OmittedWhenNil<Value>.Type, forKey key: Key) throws -> OmittedWhenNil<
    Value
  > {
    OmittedWhenNil(wrappedValue: try decodeIfPresent(Value.self, forKey: key))
  }
}

/// A value encoded through `NullWritingEncoder`, and so every value inside it.
private struct ExplicitNulls<Wrapped: Encodable>: Encodable {
  let wrapped: Wrapped

  init(_ wrapped: Wrapped) { self.wrapped = wrapped }

  func encode(to encoder: any Encoder) throws {
    try wrapped.encode(to: NullWritingEncoder(base: encoder))
  }
}

/// JSONEncoder's own encoder, except that a keyed container writes `null` for the nil that
/// synthesized `encode(to:)` passes to `encodeIfPresent` (where JSONEncoder writes nothing).
private struct NullWritingEncoder: Encoder {
  let base: any Encoder

  var codingPath: [any CodingKey] { base.codingPath }
  var userInfo: [CodingUserInfoKey: Any] { base.userInfo }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    KeyedEncodingContainer(NullWritingKeyedContainer(base: base.container(keyedBy: type)))
  }

  func unkeyedContainer() -> any UnkeyedEncodingContainer {
    NullWritingUnkeyedContainer(base: base.unkeyedContainer())
  }

  func singleValueContainer() -> any SingleValueEncodingContainer {
    NullWritingSingleValueContainer(base: base.singleValueContainer())
  }
}

private struct NullWritingKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
  var base: KeyedEncodingContainer<Key>

  var codingPath: [any CodingKey] { base.codingPath }

  mutating func encodeNil(forKey key: Key) throws { try base.encodeNil(forKey: key) }
  mutating func encode(_ value: Bool, forKey key: Key) throws { try base.encode(value, forKey: key) }
  mutating func encode(_ value: String, forKey key: Key) throws { try base.encode(value, forKey: key) }
  mutating func encode(_ value: Double, forKey key: Key) throws { try base.encode(value, forKey: key) }
  mutating func encode(_ value: Float, forKey key: Key) throws { try base.encode(value, forKey: key) }
  mutating func encode(_ value: Int, forKey key: Key) throws { try base.encode(value, forKey: key) }
  mutating func encode(_ value: Int8, forKey key: Key) throws { try base.encode(value, forKey: key) }
  mutating func encode(_ value: Int16, forKey key: Key) throws { try base.encode(value, forKey: key) }
  mutating func encode(_ value: Int32, forKey key: Key) throws { try base.encode(value, forKey: key) }
  mutating func encode(_ value: Int64, forKey key: Key) throws { try base.encode(value, forKey: key) }
  mutating func encode(_ value: UInt, forKey key: Key) throws { try base.encode(value, forKey: key) }
  mutating func encode(_ value: UInt8, forKey key: Key) throws { try base.encode(value, forKey: key) }
  mutating func encode(_ value: UInt16, forKey key: Key) throws { try base.encode(value, forKey: key) }
  mutating func encode(_ value: UInt32, forKey key: Key) throws { try base.encode(value, forKey: key) }
  mutating func encode(_ value: UInt64, forKey key: Key) throws { try base.encode(value, forKey: key) }

  mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
    try base.encode(JSONPolicy.boxed(value), forKey: key)
  }

  // The point of this type: nil is `null`, not a missing key.
  mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try orNull(value, key) }
  mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try orNull(value, key) }
  mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try orNull(value, key) }
  mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try orNull(value, key) }
  mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try orNull(value, key) }
  mutating func encodeIfPresent(_ value: Int8?, forKey key: Key) throws { try orNull(value, key) }
  mutating func encodeIfPresent(_ value: Int16?, forKey key: Key) throws { try orNull(value, key) }
  mutating func encodeIfPresent(_ value: Int32?, forKey key: Key) throws { try orNull(value, key) }
  mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try orNull(value, key) }
  mutating func encodeIfPresent(_ value: UInt?, forKey key: Key) throws { try orNull(value, key) }
  mutating func encodeIfPresent(_ value: UInt8?, forKey key: Key) throws { try orNull(value, key) }
  mutating func encodeIfPresent(_ value: UInt16?, forKey key: Key) throws { try orNull(value, key) }
  mutating func encodeIfPresent(_ value: UInt32?, forKey key: Key) throws { try orNull(value, key) }
  mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try orNull(value, key) }
  mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try orNull(value, key) }

  private mutating func orNull<T: Encodable>(_ value: T?, _ key: Key) throws {
    if let value { try encode(value, forKey: key) } else { try base.encodeNil(forKey: key) }
  }

  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type, forKey key: Key
  ) -> KeyedEncodingContainer<NestedKey> {
    KeyedEncodingContainer(
      NullWritingKeyedContainer<NestedKey>(base: base.nestedContainer(keyedBy: keyType, forKey: key)))
  }

  mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
    NullWritingUnkeyedContainer(base: base.nestedUnkeyedContainer(forKey: key))
  }

  mutating func superEncoder() -> any Encoder { NullWritingEncoder(base: base.superEncoder()) }

  mutating func superEncoder(forKey key: Key) -> any Encoder {
    NullWritingEncoder(base: base.superEncoder(forKey: key))
  }
}

private struct NullWritingUnkeyedContainer: UnkeyedEncodingContainer {
  var base: any UnkeyedEncodingContainer

  var codingPath: [any CodingKey] { base.codingPath }
  var count: Int { base.count }

  mutating func encodeNil() throws { try base.encodeNil() }
  mutating func encode(_ value: Bool) throws { try base.encode(value) }
  mutating func encode(_ value: String) throws { try base.encode(value) }
  mutating func encode(_ value: Double) throws { try base.encode(value) }
  mutating func encode(_ value: Float) throws { try base.encode(value) }
  mutating func encode(_ value: Int) throws { try base.encode(value) }
  mutating func encode(_ value: Int8) throws { try base.encode(value) }
  mutating func encode(_ value: Int16) throws { try base.encode(value) }
  mutating func encode(_ value: Int32) throws { try base.encode(value) }
  mutating func encode(_ value: Int64) throws { try base.encode(value) }
  mutating func encode(_ value: UInt) throws { try base.encode(value) }
  mutating func encode(_ value: UInt8) throws { try base.encode(value) }
  mutating func encode(_ value: UInt16) throws { try base.encode(value) }
  mutating func encode(_ value: UInt32) throws { try base.encode(value) }
  mutating func encode(_ value: UInt64) throws { try base.encode(value) }
  mutating func encode<T: Encodable>(_ value: T) throws { try base.encode(JSONPolicy.boxed(value)) }

  mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
    -> KeyedEncodingContainer<NestedKey>
  {
    KeyedEncodingContainer(NullWritingKeyedContainer<NestedKey>(base: base.nestedContainer(keyedBy: keyType)))
  }

  mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
    NullWritingUnkeyedContainer(base: base.nestedUnkeyedContainer())
  }

  mutating func superEncoder() -> any Encoder { NullWritingEncoder(base: base.superEncoder()) }
}

private struct NullWritingSingleValueContainer: SingleValueEncodingContainer {
  var base: any SingleValueEncodingContainer

  var codingPath: [any CodingKey] { base.codingPath }

  mutating func encodeNil() throws { try base.encodeNil() }
  mutating func encode(_ value: Bool) throws { try base.encode(value) }
  mutating func encode(_ value: String) throws { try base.encode(value) }
  mutating func encode(_ value: Double) throws { try base.encode(value) }
  mutating func encode(_ value: Float) throws { try base.encode(value) }
  mutating func encode(_ value: Int) throws { try base.encode(value) }
  mutating func encode(_ value: Int8) throws { try base.encode(value) }
  mutating func encode(_ value: Int16) throws { try base.encode(value) }
  mutating func encode(_ value: Int32) throws { try base.encode(value) }
  mutating func encode(_ value: Int64) throws { try base.encode(value) }
  mutating func encode(_ value: UInt) throws { try base.encode(value) }
  mutating func encode(_ value: UInt8) throws { try base.encode(value) }
  mutating func encode(_ value: UInt16) throws { try base.encode(value) }
  mutating func encode(_ value: UInt32) throws { try base.encode(value) }
  mutating func encode(_ value: UInt64) throws { try base.encode(value) }
  mutating func encode<T: Encodable>(_ value: T) throws { try base.encode(JSONPolicy.boxed(value)) }
}
