import { ProjectionAssertionError, FencedOffError } from './errors.js';
import { checkedSql, renderChecked, translateCheckError } from './checked-statements.js';

describe('statements with a promised row count', () => {
  it('leaves a statement without a promise as it is, with its values inlined', () => {
    const sql = renderChecked({ owner: 'p', change: { text: 'SELECT $1, $2', values: ["it's", 3n] } }, 0);
    expect(sql).toBe("SELECT 'it''s', 3");
  });

  it('counts the rows of a promised statement in the database, naming its owner and its index', () => {
    const sql = renderChecked(
      { owner: 'ledger_entries', change: { text: 'UPDATE t SET a = $1', values: [1], expectRows: 2 } },
      7,
    );
    expect(sql).toBe(
      "WITH changed AS (UPDATE t SET a = 1 RETURNING 1) SELECT projections.expect_rows((SELECT count(*) FROM changed), 2, 'ledger_entries', 7, false)",
    );
  });

  it.each([
    ['a SELECT', 'SELECT 1'],
    ['a statement with its own RETURNING', 'INSERT INTO t VALUES (1) RETURNING id'],
  ])('refuses to promise a row count for %s', (_, text) => {
    expect(() => renderChecked({ owner: 'p', change: { text, values: [], expectRows: 1 } }, 0)).toThrow(
      /must be an INSERT, UPDATE or DELETE without RETURNING/,
    );
  });

  it('maps a failed check back to the statement that made the promise', () => {
    const sql = checkedSql([
      { owner: 'group', change: { text: 'SELECT 1', values: [] } },
      {
        owner: 'projects',
        change: { text: 'UPDATE projects SET x = $2 WHERE id = $1', values: ['p-1', 5], expectRows: 1 },
      },
    ]);
    const error = translateCheckError(
      { code: 'LD001', message: 'projects: expected 1 row(s), changed 0', detail: '1' },
      sql.statements,
    );
    expect(error).toBeInstanceOf(ProjectionAssertionError);
    expect(error).toMatchObject({
      projection: 'projects',
      message: 'projects: expected 1 row(s), changed 0: UPDATE projects SET x = $2 WHERE id = $1 [p-1, 5]',
    });
  });

  it('maps a failed fence to FencedOffError and leaves other errors alone', () => {
    expect(translateCheckError({ code: 'LD002', message: 'moved', detail: '3' }, [])).toBeInstanceOf(FencedOffError);
    const other = { code: '23505', message: 'duplicate key' };
    expect(translateCheckError(other, [])).toBe(other);
  });
});
