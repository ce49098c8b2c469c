import { Soak, failures, type SoakReport } from './soak.js';

/**
 * One minute of the soak (`npm run soak`, test/faults/soak.ts) with the service SIGKILLed
 * at least every 15 s (or sooner, at the crash site each start arms) and PostgreSQL with it
 * every third time: no credit lost or applied twice, no invariant broken, the read models a
 * fold of the log, every owed delivery received. Every process it started is ended, also
 * when it fails.
 */
describe('soak', () => {
  // At least one database kill and two bank checks during the load: the minute is extended until they happened.
  const soak = new Soak({
    minutes: 1,
    killEverySeconds: 15,
    // Every start arms a crash site: the most sites covered in a minute.
    armEvery: 1,
    minDatabaseKills: 1,
    minBankChecks: 2,
    clients: 3,
    ratePerSecond: 30,
  });
  afterAll(() => soak.dispose());

  it('keeps every credit and every invariant through a minute of kills', async () => {
    const report: SoakReport = await soak.run();
    process.stdout.write(`soak: ${JSON.stringify(report)}\n`);
    expect(failures(report)).toEqual([]);
    expect({
      creditsLost: report.creditsLost,
      creditsDuplicated: report.creditsDuplicated,
      invariantViolations: report.invariantViolations,
      doubleTerminals: report.doubleTerminals,
      doubleRefunds: report.doubleRefunds,
      projectionDiffRows: report.projectionDiffRows,
      unanswered: report.commands.unanswered,
    }).toEqual({
      creditsLost: 0,
      creditsDuplicated: 0,
      invariantViolations: 0,
      doubleTerminals: 0,
      doubleRefunds: 0,
      projectionDiffRows: 0,
      unanswered: 0,
    });
    expect(report.deliveries.received).toBe(report.deliveries.owed);
    // The run did what it claims: faults happened, commands lost their answers, checks ran.
    expect(report.faults.serviceKills + report.faults.crashSiteDeaths).toBeGreaterThanOrEqual(2);
    expect(report.faults.databaseKills).toBeGreaterThanOrEqual(1);
    expect(report.commands.answered).toBeGreaterThan(50);
    expect(report.deliveries.owed).toBeGreaterThan(50);
    // Two during the load, one at the end.
    expect(report.bankChecks).toBeGreaterThanOrEqual(3);
  }, 600_000);
});
