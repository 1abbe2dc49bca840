/// An image repository without tag or digest (`image:` in a plan): `registry.example.com/acme/web`,
/// `192.168.250.1:5000/app`, `nginx`. Checked with the Docker layer's reference grammar, so a
/// name Docker would refuse is caught by `validate`, not on a host. Each deploy adds the tag or
/// digest: `ImageReference.parse(arg, defaultRepository: plan.image.name)`.
public struct ImageRepository: Sendable, Hashable, CustomStringConvertible {
  /// `[registry[:port]/]path`.
  public var name: String

  public init(parsing text: String) throws(ValueError) {
    if text.contains("@") {
      throw ValueError(
        "`\(text)`: `image` is the repository only; the digest is given per deploy (`--image repo@sha256:…`)")
    }
    if text.split(separator: "/", omittingEmptySubsequences: false).last?.contains(":") == true {
      throw ValueError(
        "`\(text)`: `image` is the repository only; the tag is given per deploy (`deployctl deploy ENV --image v2`)"
      )
    }
    do throws(DockerError) {
      try ImageReference.validateRepository(text)
    } catch {
      if case .invalidReference(_, let reason) = error {
        throw ValueError("`\(text)` is not an image repository: \(reason)")
      }
      throw ValueError("`\(text)` is not an image repository: \(error.description)")
    }
    name = text
  }

  /// The registry host (and port), nil for Docker Hub.
  public var registry: String? {
    // `init(parsing:)` checked `name` with the same grammar, so this cannot throw.
    try? ImageReference(repository: name).registry
  }

  public var description: String { name }
}
