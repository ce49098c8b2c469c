import { CRASH_SITES, parseCrashAt } from './crash-points.js';

describe('LEDGER_CRASH_AT', () => {
  it('names a site of the list, the first time by default or the nth', () => {
    expect(parseCrashAt(undefined)).toBeUndefined();
    expect(parseCrashAt('')).toBeUndefined();
    expect(parseCrashAt('command.after-append')).toEqual({ site: 'command.after-append', nth: 1 });
    expect(parseCrashAt('projector.after-commit:3')).toEqual({ site: 'projector.after-commit', nth: 3 });
  });

  it.each([
    'command.after-apend',
    'command.after-append:0',
    'command.after-append:-1',
    'command.after-append:1.5',
    'x:',
  ])('refuses %s rather than never crashing', (value) => {
    expect(() => parseCrashAt(value)).toThrow(/LEDGER_CRASH_AT/);
  });

  it('keeps one list of distinct sites', () => {
    expect(new Set(CRASH_SITES).size).toBe(CRASH_SITES.length);
    for (const site of CRASH_SITES) expect(parseCrashAt(site)?.site).toBe(site);
  });
});
