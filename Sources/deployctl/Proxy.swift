import ArgumentParser
import DeployKit
import Foundation

extension DeployCtl {
  struct Proxy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show or replace the proxy (deployctl-proxy, Caddy) on each host of an environment.",
      discussion: """
        Plans with `proxy:` are routed by one proxy container per host, shared by every app \
        deployed there (docs/operations.md "The proxy").

        Examples:
          deployctl proxy status prod
          deployctl proxy reboot prod
        """,
      subcommands: [Status.self, Reboot.self])

    struct Status: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Per host: proxy running, image, published ports, and every app's route.",
        discussion: """
          Each route: app and environment, the Host names and path it matches, the container the \
          proxy sends it to and that container's release, and whether maintenance is on. Reads the \
          inventory's hosts, so it needs no --app. Exit 0 when every host answered, 1 when one \
          could not be read.

          Examples:
            deployctl proxy status prod
            deployctl proxy status staging --output json
          """)

      @Argument(help: "The environment (inventories/<env>.yml).", completion: .environments)
      var environment: String

      @OptionGroup var common: CommonOptions

      func run() async throws {
        throw await ProxyStatusCommand(environment: environment, selection: common.selection)
          .run(on: common.console)
      }
    }

    struct Reboot: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Replace each host's proxy container in turn (new image or ports); routes are kept.",
        discussion: """
          One host at a time: pulls the plan's `proxy.image`, stops the proxy container and starts \
          a new one with the plan's `proxy:` ports, then waits until it takes its routes before the \
          next host. Each host has a short gap (about a second) while its proxy restarts: requests \
          to that host fail meanwhile. A host whose new proxy does not start gets its old one back, \
          and the hosts after it are left alone. Takes the proxy's own lock on each host (route \
          changes of every app wait for it), not the app's deploy lock. Refuses a plan without \
          `proxy:` before touching any host. Exit 0 when every host's proxy was replaced, 1 \
          otherwise, 2 when refused.

          Examples:
            deployctl proxy reboot prod
            deployctl proxy reboot staging --app web --limit web1
          """)

      @Argument(help: "The environment (inventories/<env>.yml).", completion: .environments)
      var environment: String

      @OptionGroup var common: CommonOptions

      func run() async throws {
        throw await ProxyRebootCommand(environment: environment, selection: common.selection)
          .run(on: common.console)
      }
    }
  }

  struct Maintenance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Turn maintenance on (the proxy answers 503 with a message) or off, on every host.",
      discussion: """
        For a plan with `proxy:`: the app's route on each host's proxy answers every request with \
        503 and the message (default "Down for maintenance") instead of reaching the app; `off` \
        routes to the app again. The app's containers keep running, and a deploy meanwhile keeps \
        maintenance on. Each change goes into the hosts' audit log and shows in `history`. \
        Refused (exit 2, nothing changed) for a plan without `proxy:`, or when the app has no \
        route yet on some host (never deployed there behind the proxy). Exit 0 when every host \
        changed, 1 when one could not be read or changed.

        Examples:
          deployctl maintenance prod on --message "Back at 14:00 UTC"
          deployctl maintenance prod off
          deployctl maintenance staging on --app api --output json
        """)

    enum Switch: String, CaseIterable, ExpressibleByArgument {
      case on, off
    }

    @Argument(help: "The environment (inventories/<env>.yml).", completion: .environments)
    var environment: String

    @Argument(help: "on or off.")
    var state: Switch

    @Option(help: "What the proxy answers with while maintenance is on (default: \"Down for maintenance\").")
    var message: String?

    @OptionGroup var common: CommonOptions

    func validate() throws {
      if state == .off && message != nil { throw ValidationError("--message goes with `on`, not `off`") }
      if let message, message.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
        throw ValidationError("--message must not be empty")
      }
    }

    func run() async throws {
      throw await MaintenanceCommand(
        environment: environment, on: state == .on, message: message, selection: common.selection
      ).run(on: common.console)
    }
  }
}
