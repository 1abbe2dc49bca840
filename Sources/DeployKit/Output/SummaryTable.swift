import DeployEngine
import Foundation

/// The table printed when a command ends, and the same as Markdown for GitHub's job summary.
public enum SummaryTable {
  public static func text(_ report: CommandReport, terminal: Terminal) -> String {
    let rows = report.hosts.map { host in
      [
        host.name, host.result.rawValue, host.release ?? "-",
        ProgressLog.format(.milliseconds(host.durationMs)), host.error?.firstLine ?? "",
      ]
    }
    let lines = TextTable.lines(["HOST", "RESULT", "RELEASE", "TIME", "ERROR"], rows)
    let ok = Set([HostResult.deployed, .unchanged, .planned].map(\.rawValue))
    var painted = [terminal.paint(lines[0], .bold)]
    for (row, line) in zip(rows, lines.dropFirst()) {
      painted.append(ok.contains(row[1]) ? line : terminal.paint(line, .red))
    }
    return painted.joined(separator: "\n")
  }

  public static func markdown(_ report: CommandReport) -> String {
    var md = "### deployctl \(report.command) \(report.environment ?? "")"
    md += report.app.map { " (\($0))" } ?? ""
    md += ": \(report.result.rawValue)\n\n"
    if let release = report.release {
      md += "Release `\(release.id)`: `\(release.image)`"
      if let from = report.promotedFrom { md += ", promoted from \(from)" }
      md += "\n\n"
    }
    if let error = report.error { md += "> \(error.firstLine)\n\n" }
    if let source = report.source, report.result == .refused {
      md += "What \(source.environment) runs:\n\n| host | reachable | release | state | health |\n"
      md += "| --- | --- | --- | --- | --- |\n"
      for host in source.hosts {
        md +=
          "| \(host.name) | \(host.reachable ? "yes" : "no") | \(host.release ?? "-") | \(host.state) | \(host.health) |\n"
      }
      md += "\n"
    }
    md += "| host | result | release | time | error |\n| --- | --- | --- | --- | --- |\n"
    for host in report.hosts {
      let error = host.error?.firstLine.replacingOccurrences(of: "|", with: "\\|") ?? ""
      md +=
        "| \(host.name) | \(host.result.rawValue) | \(host.release ?? "-") | "
        + "\(ProgressLog.format(.milliseconds(host.durationMs))) | \(error) |\n"
    }
    return md + "\n"
  }
}

extension String {
  func trimmingTrailingSpaces() -> String {
    var s = self
    while s.last == " " { s.removeLast() }
    return s
  }
}

/// The table `deployctl status` prints.
public enum StatusTable {
  public static func text(_ report: StatusReport) -> String {
    let header = ["HOST", "REACHABLE", "RELEASE", "STATE", "HEALTH", "IMAGE"]
    var rows: [[String]] = []
    for host in report.hosts {
      let image: String = host.image ?? (host.error?.firstLine ?? "-")
      rows.append([
        host.name, host.reachable ? "yes" : "no", host.release ?? "-", host.state, host.health, image,
      ])
      // With `proxy:`: the app's route on the host's proxy, under the host.
      if let proxy = host.proxy {
        let route = proxy.container.map { "→ \($0)" } ?? "no route yet"
        let message = proxy.maintenance ? ": \"\(proxy.maintenanceMessage ?? "")\"" : ""
        rows.append([
          "  proxy", proxy.running ? "running" : "down", proxy.release ?? "-",
          proxy.maintenance ? "maintenance" : "routed", "-", route + message,
        ])
      }
      // A swarm's tasks, under its manager: task, node, state, health, image.
      for task in host.tasks ?? [] {
        rows.append(["  \(task.name)", "-", task.node, task.state, task.health ?? "-", task.image])
      }
    }
    return TextTable.lines(header, rows).joined(separator: "\n")
  }
}

/// Columns padded to their widest cell, two spaces apart, the last one left ragged.
public enum TextTable {
  public static func lines(_ header: [String], _ rows: [[String]]) -> [String] {
    var widths = header.map(\.count)
    for row in rows {
      for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
    }
    return ([header] + rows).map { row in
      row.enumerated().map { i, cell in
        i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
      }.joined(separator: "  ").trimmingTrailingSpaces()
    }
  }
}

/// The table `deployctl history` prints: one run per line, newest first.
public enum HistoryTable {
  public static func text(_ report: HistoryReport, terminal: Terminal) -> String {
    let rows = report.releases.map { entry in
      let done = entry.hosts.filter { $0.result == AuditResult.succeeded.rawValue }.count
      if entry.how == AuditCommand.lockTakeover.rawValue {
        // The run it took the lock from was killed or cut off: say whose it was.
        let stale = entry.staleS.map { "; it had stopped renewing \($0)s before" } ?? ""
        return [
          "-", when(entry.time), entry.user, entry.howText, "-",
          "took over \(done)/\(entry.hosts.count) from \(entry.holder ?? "an unknown holder")\(stale)",
        ]
      }
      if entry.how == AuditCommand.maintenanceOn.rawValue || entry.how == AuditCommand.maintenanceOff.rawValue
      {
        return [
          "-", when(entry.time), entry.user, entry.howText, "-",
          "\(entry.result) \(done)/\(entry.hosts.count)",
        ]
      }
      return [
        entry.release ?? "-", when(entry.time), entry.user, entry.howText,
        (entry.tag ?? "-") + " " + (entry.digest.map { "sha256:" + $0.dropFirst(7).prefix(12) } ?? "-"),
        "\(entry.result) \(done)/\(entry.hosts.count)" + (entry.live ? "  (live)" : ""),
      ]
    }
    var lines = TextTable.lines(["RELEASE", "WHEN (UTC)", "WHO", "HOW", "IMAGE", "RESULT"], rows)
    lines[0] = terminal.paint(lines[0], .bold)
    if rows.isEmpty {
      lines.append("(no releases of \(report.app) recorded on the hosts of \(report.environment))")
    }
    return lines.joined(separator: "\n")
  }

  static func when(_ date: Date) -> String {
    String(HostStateJSON.format(date).prefix(19)).replacingOccurrences(of: "T", with: " ")
  }
}
