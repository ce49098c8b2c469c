import {
  initialAccountState,
  type AccountEvent,
  type AccountState,
  type ApiKeyEvent,
  type ApiKeyState,
  type AccountSettingsEvent,
  type AccountSettingsState,
  type WebhookEndpointEvent,
  type WebhookEndpointState,
  type ProjectEvent,
  type ProjectState,
} from '@ledger/domain';

/** The kinds of stream a decision reads, each with its state. */
export interface StreamStates {
  account: AccountState;
  project: ProjectState;
  apiKey: ApiKeyState;
  webhookEndpoint: WebhookEndpointState;
  accountSettings: AccountSettingsState;
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
  webhookEndpoint?: readonly WebhookEndpointEvent[];
  accountSettings?: readonly AccountSettingsEvent[];
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
  /**
   * The account a decision also reads when only the streams named first say which one it
   * is: a project's payer, whose lots its refund returns to. The executor loads it after
   * them and appends to it expecting the revision it loaded.
   */
  payer?(states: Readonly<Pick<StreamStates, Kind>>): string | undefined;
  decide(
    states: Readonly<Pick<StreamStates, Kind>> & Partial<StreamStates>,
    command: Command,
    now: Date,
  ): Decision<Reply>;
}

/** A domain command as its caller builds it: the executor adds `now`. */
export type Untimed<Command> = Omit<Command, 'now'>;

/** A command decided on its account alone (grant, debit, void, a lot's expiry). */
export function onAccount<Command extends { accountId: string; now: Date }, Reply>(
  decide: (state: AccountState, command: Command) => Decision<Reply>,
): CommandHandler<Untimed<Command>, 'account', Reply> {
  return {
    streams: (command) => ({ account: command.accountId }),
    decide: ({ account }, command, now) => decide(account, { ...command, now } as Command),
  };
}

/**
 * A command decided on its project and the project's payer: one that may refund, since a
 * refund goes back to the lots the project drew from and closes again the part whose lot
 * expired or was voided. A project that does not exist has no payer (the decision refuses it).
 */
export function onProjectAndPayer<Command extends { projectId: string; now: Date }, Reply>(
  decide: (account: AccountState, project: ProjectState, command: Command) => Decision<Reply>,
): CommandHandler<Untimed<Command>, 'project', Reply> {
  return {
    streams: (command) => ({ project: command.projectId }),
    payer: ({ project }) => (project.status === 'none' ? undefined : project.accountId),
    decide: ({ project, account }, command, now) =>
      decide(account ?? initialAccountState(), project, { ...command, now } as Command),
  };
}

/** A command decided on its project alone: one that never moves money (claim, heartbeat, assets). */
export function onProject<Command extends { projectId: string; now: Date }, Reply>(
  decide: (state: ProjectState, command: Command) => Decision<Reply>,
): CommandHandler<Untimed<Command>, 'project', Reply> {
  return {
    streams: (command) => ({ project: command.projectId }),
    decide: ({ project }, command, now) => decide(project, { ...command, now } as Command),
  };
}
