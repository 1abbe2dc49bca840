import Testing

@testable import DeployConfig
@testable import DeployEngine
@testable import DeployKit

@Suite struct PromoteRequirementTests {
  @Test func onlyAReleaseVerifiedOnEveryHostQualifies() {
    let requirement = PromoteRequirement.verified
    #expect(
      requirement.problems(
        from: "staging", to: "prod",
        hosts: [
          LiveVerification(host: "staging-1", release: "r7", verified: true),
          LiveVerification(host: "staging-2", release: "r7", verified: true),
        ]) == [])
    #expect(
      requirement.problems(
        from: "staging", to: "prod",
        hosts: [
          LiveVerification(host: "staging-1", release: "r7", verified: true),
          LiveVerification(host: "staging-2", release: "r7", verified: false),
          LiveVerification(host: "staging-3", release: "r6", verified: nil),
          LiveVerification(host: "staging-4", release: nil, verified: nil),
        ])
        == [
          "staging-2: release r7 failed verification in staging; prod requires a verified release (promote_requires: verified in inventories/prod.yml)",
          "staging-3: release r6 was not verified in staging; prod requires a verified release (promote_requires: verified in inventories/prod.yml)",
          "staging-4: runs no release of ours; prod requires a verified release (promote_requires: verified in inventories/prod.yml)",
        ])
  }
}
