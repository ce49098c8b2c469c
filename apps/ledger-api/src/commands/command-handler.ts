import type { AccountEvent, AccountState, ApiKeyEvent, ApiKeyState, ProjectEvent, ProjectState } from '@ledger/domain';

/** The kinds of stream a decision reads, each with its state. */
export interface StreamStates {
  account: AccountState;
  project: ProjectState;
  apiKey: ApiKeyState;
}

export type StreamKind = keyof StreamStates;

/**
 * What a decider returns: the events for each stream and the reply. Both the domain's
 * `AccountDecision` and `ProjectDecision` are one.
 */
export type Decision<Reply> = Readonly<{
  /** The account the `account` events are for, when the decision did not read it: a project's payer. */
  accountId?: string;
  account?: readonly AccountEvent[];
  project?: readonly ProjectEvent[];
  apiKey?: readonly ApiKeyEvent[];
  reply: Reply;
}>;

/**
 * How one domain command is decided, as data: the streams it reads, named once, and
 * the pure decider over their states. The executor derives everything else from
 * `streams`: which stream this process serialises on, what it reads ahead, what it
 * loads, and the revisions the append expects. `now` is the executor's clock, read
 * once per attempt.
 */
export interface CommandHandler<Command, Kind extends StreamKind, Reply> {
  streams(command: Command): Readonly<Record<Kind, string>>;
  decide(states: Readonly<Pick<StreamStates, Kind>>, command: Command, now: Date): Decision<Reply>;
}

/** A domain command as its caller builds it: the executor adds `now`. */
export type Untimed<Command> = Omit<Command, 'now'>;

/** A command decided on its account alone (grant, debit). */
export function onAccount<Command extends { accountId: string }, Reply>(
  decide: (state: AccountState, command: Command) => Decision<Reply>,
): CommandHandler<Command, 'account', Reply> {
  return {
    streams: (command) => ({ account: command.accountId }),
    decide: ({ account }, command) => decide(account, command),
  };
}

/** A command decided on its project alone; a refund it decides goes to the payer without reading its account. */
export function onProject<Command extends { projectId: string; now: Date }, Reply>(
  decide: (state: ProjectState, command: Command) => Decision<Reply>,
): CommandHandler<Untimed<Command>, 'project', Reply> {
  return {
    streams: (command) => ({ project: command.projectId }),
    decide: ({ project }, command, now) => decide(project, { ...command, now } as Command),
  };
}
