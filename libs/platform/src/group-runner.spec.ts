import { GroupRunner, type MemberResult } from './group-runner.js';

/** A runner whose groups stay open until the test lets each one finish. */
function controlled() {
  const groups: { inputs: number[]; finish(results?: MemberResult<string>[]): void; fail(error: Error): void }[] = [];
  const started: (() => void)[] = [];
  const runner = new GroupRunner<number, string>(
    (inputs) =>
      new Promise((resolve, reject) => {
        groups.push({
          inputs,
          finish: (results) => resolve(results ?? inputs.map((i) => ({ ok: true, value: `v${i}` }))),
          fail: reject,
        });
        started.shift()?.();
      }),
    { maxInFlight: 2, maxGroup: 3 },
  );
  const nextGroup = () => new Promise<void>((resolve) => started.push(resolve));
  return { runner, groups, nextGroup };
}

describe('GroupRunner', () => {
  it('sends the calls of one turn together and answers each with its own result', async () => {
    const { runner, groups, nextGroup } = controlled();
    const started = nextGroup();
    const answers = Promise.all([runner.submit(1), runner.submit(2), runner.submit(3)]);
    await started;
    expect(groups.map((g) => g.inputs)).toEqual([[1, 2, 3]]);
    groups[0]!.finish();
    await expect(answers).resolves.toEqual(['v1', 'v2', 'v3']);
  });

  it('holds calls while maxInFlight groups run, then sends them together, at most maxGroup at once', async () => {
    const { runner, groups, nextGroup } = controlled();
    let started = nextGroup();
    const first = runner.submit(1);
    await started;
    started = nextGroup();
    const second = runner.submit(2);
    await started;
    const waiting = [3, 4, 5, 6, 7].map((i) => runner.submit(i));
    await new Promise((resolve) => setImmediate(resolve));
    expect(groups).toHaveLength(2);
    expect(runner.queued).toBe(5);

    started = nextGroup();
    groups[0]!.finish();
    await started;
    expect(groups[2]!.inputs).toEqual([3, 4, 5]);
    started = nextGroup();
    groups[1]!.finish();
    await started;
    expect(groups[3]!.inputs).toEqual([6, 7]);
    groups[2]!.finish();
    groups[3]!.finish();
    await expect(Promise.all([first, second, ...waiting])).resolves.toEqual(['v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7']);
    expect(runner.queued).toBe(0);
  });

  it('fails only the member whose result is an error, and every member when the group throws', async () => {
    const { runner, groups, nextGroup } = controlled();
    let started = nextGroup();
    const members = [runner.submit(1), runner.submit(2)].map((p) => p.then(String, (e: Error) => e.message));
    await started;
    groups[0]!.finish([
      { ok: true, value: 'fine' },
      { ok: false, error: new Error('its own') },
    ]);
    await expect(Promise.all(members)).resolves.toEqual(['fine', 'its own']);

    started = nextGroup();
    const together = [runner.submit(3), runner.submit(4)].map((p) => p.then(String, (e: Error) => e.message));
    await started;
    groups[1]!.fail(new Error('down'));
    await expect(Promise.all(together)).resolves.toEqual(['down', 'down']);
  });

  it('refuses a group answered with the wrong number of results', async () => {
    const { runner, groups, nextGroup } = controlled();
    const started = nextGroup();
    const members = [runner.submit(1), runner.submit(2)];
    await started;
    groups[0]!.finish([{ ok: true, value: 'only one' }]);
    await expect(members[0]).rejects.toThrow('a group of 2 got 1 results');
    await expect(members[1]).rejects.toThrow('a group of 2 got 1 results');
  });
});
