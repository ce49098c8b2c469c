import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, type EventStore } from '@ledger/event-store';
import { projectsTable } from '@ledger/projections';
import { ReadModel } from '../queries/read-model.js';

// How long a delivery waits for the projection to show a project started just before it.
export const TASK_LOOKUP_WAIT_MS = 2_000;

/**
 * Finds a provider task's project in the projects read model (indexed by
 * `external_task_id`). The read model follows the log, so a project started a
 * moment before its webhook may not be there yet: when the task is not found,
 * the lookup waits (bounded) until the read models have applied everything
 * appended before the delivery arrived and looks again. Only then is the task
 * unknown; a read model still behind after the wait is 503 `projection_behind`
 * (the provider retries), never a wrong "unmatched". Should several projects
 * name the same task, the one started last is the task's project.
 */
@Injectable()
export class TaskProjects {
  constructor(
    private readonly readModel: ReadModel,
    @Inject(EVENT_STORE) private readonly store: EventStore,
  ) {}

  async projectOf(taskId: string): Promise<string | undefined> {
    const now = await this.lookup(taskId, undefined, 0);
    if (now !== undefined) return now;
    return this.lookup(taskId, await this.store.headPosition(), TASK_LOOKUP_WAIT_MS);
  }

  private lookup(taskId: string, minPosition: bigint | undefined, waitMs: number): Promise<string | undefined> {
    return this.readModel.read({ minPosition, waitMs }, (db) => projectsTable.byExternalTask(db, taskId));
  }
}
