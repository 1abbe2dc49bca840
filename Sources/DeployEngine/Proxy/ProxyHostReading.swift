import DeployConfig
import DeployTransport
import Foundation

/// What a host's proxy is now: its container and every app's route, read in one round trip
/// (`deployctl proxy status`, and `status` of a plan with `proxy:`).
public struct ProxyHostReading: Sendable, Equatable {
  /// The proxy's container (nil: there is none on the host).
  public var container: ContainerInfo?
  /// Published ports as `host:container` (`80:80`), each once.
  public var ports: [String]
  public var routes: ProxyRoutes

  public var running: Bool { container?.running == true }

  /// The sections `parse` reads, added to `script`.
  public struct Sections: Sendable {
    var container: RemoteScript.Section
    var ports: RemoteScript.Section
    var routes: RemoteScript.Section
  }

  public static func add(to script: inout RemoteScript, paths: ProxyPaths = ProxyPaths()) -> Sections {
    Sections(
      container: script.section(
        "proxy-container", DockerCommand.inspectContainer(ProxyScripts.containerName), failure: .isAnswer),
      ports: script.section(
        "proxy-ports", RemoteCommand(["docker", "port", ProxyScripts.containerName]), failure: .isAnswer),
      routes: script.section("proxy-routes", ProxyScripts.readRoutes(paths), failure: .isAnswer))
  }

  /// Reads what `add` printed; a Docker engine that does not answer is an error.
  public static func parse(_ output: RemoteScriptOutput, _ sections: Sections) throws(DockerError)
    -> ProxyHostReading
  {
    let container = try ContainerInfo.parseInspect(output[sections.container])
    let portLines = output[sections.ports].map { $0.succeeded ? $0.lines : [] } ?? []
    return ProxyHostReading(
      container: container, ports: container == nil ? [] : parsePorts(portLines),
      routes: ProxyRoutes.parse(output[sections.routes]?.output ?? ""))
  }

  /// `docker port` lines (`80/tcp -> 0.0.0.0:80`, `80/tcp -> [::]:80`) as `80:80`, each once.
  static func parsePorts(_ lines: [String]) -> [String] {
    var ports: [String] = []
    for line in lines {
      let parts = line.components(separatedBy: " -> ")
      guard parts.count == 2, let inside = parts[0].split(separator: "/").first,
        let outside = parts[1].split(separator: ":").last
      else { continue }
      let port = "\(outside):\(inside)"
      if !ports.contains(port) { ports.append(port) }
    }
    return ports
  }
}

extension RemoteHost {
  /// The host's proxy as it is now (a quiet step).
  public func readProxy(paths: ProxyPaths = ProxyPaths()) async throws -> ProxyHostReading {
    var script = RemoteScript()
    let sections = ProxyHostReading.add(to: &script, paths: paths)
    let output = try await run("read proxy", script, timeout: .seconds(30), quiet: true)
    return try ProxyHostReading.parse(output, sections)
  }
}
