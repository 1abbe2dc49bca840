/// The table printed when a command ends, and the same as Markdown for GitHub's job summary.
public enum SummaryTable {
  public static func text(_ report: CommandReport, terminal: Terminal) -> String {
    let header = ["HOST", "RESULT", "RELEASE", "TIME", "ERROR"]
    let rows = report.hosts.map { host in
      [
        host.name, host.result.rawValue, host.release ?? "-",
        ProgressLog.format(.milliseconds(host.durationMs)), host.error.map(firstLine) ?? "",
      ]
    }
    var widths = header.map(\.count)
    for row in rows {
      for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
    }
    func render(_ row: [String]) -> String {
      row.enumerated().map { i, cell in
        i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
      }.joined(separator: "  ").trimmingTrailingSpaces()
    }
    var lines = [terminal.paint(render(header), .bold)]
    for row in rows {
      let line = render(row)
      let ok = row[1] == HostResult.deployed.rawValue || row[1] == HostResult.unchanged.rawValue
      lines.append(ok || row[1] == HostResult.planned.rawValue ? line : terminal.paint(line, .red))
    }
    return lines.joined(separator: "\n")
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
    if let error = report.error { md += "> \(firstLine(error))\n\n" }
    md += "| host | result | release | time | error |\n| --- | --- | --- | --- | --- |\n"
    for host in report.hosts {
      let error = host.error.map(firstLine)?.replacingOccurrences(of: "|", with: "\\|") ?? ""
      md +=
        "| \(host.name) | \(host.result.rawValue) | \(host.release ?? "-") | "
        + "\(ProgressLog.format(.milliseconds(host.durationMs))) | \(error) |\n"
    }
    return md + "\n"
  }

  static func firstLine(_ text: String) -> String {
    String(text.split(separator: "\n", omittingEmptySubsequences: true).first ?? "")
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
    let rows = report.hosts.map { host in
      [
        host.name, host.reachable ? "yes" : "no", host.release ?? "-", host.state, host.health,
        host.image ?? (host.error.map { SummaryTable.firstLine($0) } ?? "-"),
      ]
    }
    var widths = header.map(\.count)
    for row in rows {
      for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) }
    }
    return ([header] + rows).map { row in
      row.enumerated().map { i, cell in
        i == row.count - 1 ? cell : cell.padding(toLength: widths[i], withPad: " ", startingAt: 0)
      }.joined(separator: "  ").trimmingTrailingSpaces()
    }.joined(separator: "\n")
  }
}
