/// The SSH sessions of one run: one per host, made on first use and reused for every command.
/// Targets behind the same jump host share one connection to it.
public actor SSHConnections {
  private var sessions: [SSHTarget: SSHSession] = [:]
  private var jumps: [SSHJump: Task<SSHSession, any Error>] = [:]

  public init() {}

  /// The session for `target`, connecting (in the caller's task, so cancelling it cancels the
  /// connect) if there is none yet or the last one was lost.
  public func session(for target: SSHTarget) async throws -> SSHSession {
    if let session = sessions[target], await session.isUsable {
      return session
    }
    var jumpSession: SSHSession?
    if let jump = target.jump {
      do {
        jumpSession = try await self.jumpSession(for: jump)
      } catch let error as SSHError {
        throw SSHError.jumpFailed(host: target.name, jump: jump.target.name, underlying: error)
      }
    }
    let session = try await SSHSession.connect(to: target, through: jumpSession)
    if let existing = sessions[target], await existing.isUsable {
      // Another task connected meanwhile: keep one.
      await session.close()
      return existing
    }
    sessions[target] = session
    return session
  }

  private func jumpSession(for jump: SSHJump) async throws -> SSHSession {
    if let task = jumps[jump] {
      let session = try await task.value
      if await session.isUsable { return session }
    }
    let task = Task { try await SSHSession.connect(to: jump.target) }
    jumps[jump] = task
    return try await task.value
  }

  /// Runs `body` with the session for `target` (made on first use, replaced when lost).
  public nonisolated func with<T: Sendable>(
    _ target: SSHTarget, _ body: @Sendable (SSHSession) async throws -> T
  ) async throws -> T {
    try await body(try await session(for: target))
  }

  /// Closes every session (targets first, then jump hosts), concurrently.
  public func closeAll() async {
    let open = Array(sessions.values)
    sessions.removeAll()
    await withDiscardingTaskGroup { group in
      for session in open { group.addTask { await session.close() } }
    }
    let pending = Array(jumps.values)
    jumps.removeAll()
    await withDiscardingTaskGroup { group in
      for task in pending {
        task.cancel()
        // A jump host that never connected has nothing to close.
        group.addTask { try? await task.value.close() }
      }
    }
  }
}
