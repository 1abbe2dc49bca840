import Testing

@testable import DeployEngine
@testable import DeployKit

@Suite struct InvocationTests {
  @Test func whoRunsDeployctl() {
    #expect(Invocation.user(environment: ["DEPLOYCTL_USER": "alice", "GITHUB_ACTOR": "bob"]) == "alice")
    #expect(Invocation.user(environment: ["GITHUB_ACTOR": "bob", "USER": "root"]) == "github:bob")
    #expect(Invocation.user(environment: ["GITLAB_USER_LOGIN": "carol", "USER": "root"]) == "gitlab:carol")
    // Empty variables count as unset, as a CI that clears them means.
    #expect(
      Invocation.user(environment: [
        "DEPLOYCTL_USER": "", "GITHUB_ACTOR": "", "GITLAB_USER_LOGIN": "", "USER": "dave",
      ]) == "dave")
  }
}
