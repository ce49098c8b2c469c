import assert from 'node:assert';
import { RuleViolation, type RuleViolationCode } from '../rule-violation.js';

/** What a given/when/then spec needs of a decider. */
export type SpecifiedDecider<State, Event, Command, Decision> = Readonly<{
  initialState: () => State;
  evolve: (state: State, event: Event) => State;
  decide: (state: State, command: Command) => Decision;
  /** Every event a decision would append, in order, as one list. */
  eventsOf: (decision: Decision) => readonly Event[];
}>;

/**
 * `given(events).when(command).then(events)` or `.thenFails(code)`. `then` returns the
 * decision so a spec can also check its reply; `thenFails` returns the violation.
 */
export function specification<State, Event, Command, Decision>(
  decider: SpecifiedDecider<State, Event, Command, Decision>,
) {
  return (givenEvents: readonly Event[]) => ({
    when: (command: Command) => {
      const decide = (): Decision =>
        decider.decide(givenEvents.reduce(decider.evolve, decider.initialState()), command);
      return {
        then: (expectedEvents: readonly Event[]): Decision => {
          const decision = decide();
          assert.deepStrictEqual(decider.eventsOf(decision), expectedEvents);
          return decision;
        },
        thenFails: (code: RuleViolationCode): RuleViolation => {
          let decision: Decision;
          try {
            decision = decide();
          } catch (error) {
            if (!(error instanceof RuleViolation)) throw error;
            assert.strictEqual(error.code, code, `refused with ${error.code} (${error.message}), expected ${code}`);
            return error;
          }
          assert.fail(`expected ${code}, but decided ${JSON.stringify(decider.eventsOf(decision))}`);
        },
      };
    },
  });
}
