/// deployctl's version: `deployctl --version`, and the name of what `make dist` builds
/// (scripts/dist reads it from here). The one place to change it.
public enum DeployctlVersion {
  public static let current = "0.2.0"
}
