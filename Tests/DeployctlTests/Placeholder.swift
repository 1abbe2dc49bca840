import Testing

@testable import DeployKit
