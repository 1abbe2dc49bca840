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
    // The library, in layers along the pipeline; each imports only the layers above it here.
    // Configuration: YAML, the typed model, its values and validation, and the basics every
    // layer uses (exit statuses, shell quoting, spawning).
    .target(
      name: "DeployConfig",
      dependencies: ["CYAML"]),
    // Reaching hosts: SSH sessions (libssh2), known hosts, forwarding, and remote scripts.
    .target(
      name: "DeployTransport",
      dependencies: ["DeployConfig", "CLibSSH2"]),
    // Doing the work on hosts: Docker, host state, health (libcurl), verification, hooks,
    // notifications, logs, rollouts, Swarm, promotion, status and history, and the reports.
    .target(
      name: "DeployEngine",
      dependencies: ["DeployConfig", "DeployTransport", "CCurl"]),
    // The commands' library side: what each subcommand runs, its outcome and its printing.
    .target(
      name: "DeployKit",
      dependencies: ["DeployConfig", "DeployTransport", "DeployEngine"]),
    .executableTarget(
      name: "deployctl",
      dependencies: [
        "DeployConfig", "DeployEngine", "DeployKit",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    // Steady HTTP load and what every request saw, for the zero-downtime tests, benchmark and
    // demo (docs/testing.md "Request loop"); libcurl only, none of deployctl's layers.
    .executableTarget(
      name: "request-loop",
      dependencies: ["CCurl", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
    // Real servers for tests (a local sshd, keys, known_hosts), shared by both test targets.
    .target(
      name: "TestSupport",
      dependencies: ["DeployConfig", "DeployTransport"],
      path: "Tests/TestSupport"),
    .testTarget(
      name: "DeployKitTests",
      dependencies: ["DeployConfig", "DeployTransport", "DeployEngine", "DeployKit", "TestSupport", "CCurl"],
      resources: [.copy("Fixtures")]),
    .testTarget(
      name: "DeployctlTests",
      dependencies: ["DeployConfig", "DeployTransport", "DeployEngine", "DeployKit", "TestSupport"]),
  ],
  swiftLanguageModes: [.v6]
)
