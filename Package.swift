// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "deployctl",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "deployctl", targets: ["deployctl"]),
    .library(name: "DeployKit", targets: ["DeployKit"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    .systemLibrary(
      name: "CLibSSH2", pkgConfig: "libssh2",
      providers: [.apt(["libssh2-1-dev"])]),
    .systemLibrary(
      name: "CCurl", pkgConfig: "libcurl",
      providers: [.apt(["libcurl4-openssl-dev"])]),
    .systemLibrary(
      name: "CYAML", pkgConfig: "yaml-0.1",
      providers: [.apt(["libyaml-dev"])]),
    .target(
      name: "DeployKit",
      dependencies: ["CLibSSH2", "CCurl", "CYAML"]),
    .executableTarget(
      name: "deployctl",
      dependencies: [
        "DeployKit",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    // Real servers for tests (a local sshd, keys, known_hosts), shared by both test targets.
    .target(
      name: "TestSupport",
      dependencies: ["DeployKit"],
      path: "Tests/TestSupport"),
    .testTarget(
      name: "DeployKitTests",
      dependencies: ["DeployKit", "TestSupport"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "DeployctlTests",
      dependencies: ["DeployKit", "TestSupport"]),
  ],
  swiftLanguageModes: [.v6]
)
