import { Inject, Injectable } from '@nestjs/common';
import { RuleViolation, projectStream, type ProjectState } from '@ledger/domain';
import { EVENT_STORE, type EventStore } from '@ledger/event-store';
import { PROJECT_STATES } from '../commands/commands.tokens.js';
import type { StreamStateCache } from '../commands/stream-state.cache.js';

/** Reads a project by folding its stream until the projections serve these queries. */
@Injectable()
export class ProjectQueries {
  constructor(
    @Inject(PROJECT_STATES) private readonly projects: StreamStateCache<ProjectState>,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  async project(projectId: string) {
    const streamName = projectStream(projectId);
    const loaded = await this.projects.load(streamName);
    const state = loaded.state;
    if (state.status === 'none')
      throw new RuleViolation('not_found', `project ${projectId} does not exist`, { projectId });
    const [first] = await this.store.readStream(streamName, { limit: 1 });
    const terminal = 'terminal' in state ? state.terminal : undefined;
    return {
      projectId,
      accountId: state.accountId,
      status: state.status,
      cost: state.cost,
      creditsUsed: state.creditsUsed,
      refunded: state.refunded,
      attempt: state.attempt,
      workerId: state.workerId,
      leaseExpiresAt: state.leaseExpiresAt,
      deadlineAt: state.deadlineAt,
      errorMessage: terminal && 'errorMessage' in terminal ? terminal.errorMessage : null,
      assets: terminal && 'assets' in terminal ? (terminal.assets ?? null) : null,
      createdAt: first?.createdAt.toISOString(),
      updatedAt: loaded.lastEventAt,
    };
  }
}
