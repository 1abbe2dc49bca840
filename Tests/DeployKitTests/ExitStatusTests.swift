import Testing

@testable import DeployConfig
@testable import DeployKit

@Test func exitCodesMatchTheSpec() {
  #expect(ExitStatus.success.rawValue == 0)
  #expect(ExitStatus.failedRestored.rawValue == 1)
  #expect(ExitStatus.refused.rawValue == 2)
  #expect(ExitStatus.needsAttention.rawValue == 3)
  #expect(ExitStatus.locked.rawValue == 4)
}
