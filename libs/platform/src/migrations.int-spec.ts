import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { createTestDatabase } from '@ledger/test-support';
import { MigrationHistoryError, migrate, readMigrations, type MigrationSet } from './migrations.js';

// Each step needs the one before it: applied out of order, 0002 or 0003 fails.
const FILES: Record<string, string> = {
  '0001_items.sql': 'CREATE TABLE runner_items (id int PRIMARY KEY);\n',
  '0002_item_names.sql': 'ALTER TABLE runner_items ADD COLUMN name text;\n',
  '0003_first_item.sql': "INSERT INTO runner_items (id, name) VALUES (1, 'first');\n",
};

describe('migrate: a folder of NNNN_name.sql files, checksummed', () => {
  let pool: pg.Pool;
  let folder: string;
  let set: MigrationSet;
  beforeAll(async () => {
    pool = new pg.Pool({ connectionString: await createTestDatabase('migrations_runner') });
  });
  afterAll(() => pool.end());
  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'ledger-migrations-'));
    for (const [name, sql] of Object.entries(FILES)) await writeFile(join(folder, name), sql);
    // A component of its own per test: the history table is shared by the database.
    set = { component: `runner_${randomBytes(4).toString('hex')}`, folder: pathToFileURL(`${folder}/`) };
    await pool.query('DROP TABLE IF EXISTS runner_items');
  });
  afterEach(() => rm(folder, { recursive: true, force: true }));

  async function recorded(): Promise<{ version: number; name: string; checksum: string | null }[]> {
    const { rows } = await pool.query(
      'SELECT version, name, checksum FROM public.ledger_migrations WHERE component = $1 ORDER BY version',
      [set.component],
    );
    return rows;
  }

  it('applies the files in order, records each with the sha256 of its bytes, and applies nothing the second time', async () => {
    expect(await migrate(pool, set)).toEqual([1, 2, 3]);
    const { rows } = await pool.query('SELECT id, name FROM runner_items');
    expect(rows).toEqual([{ id: 1, name: 'first' }]);
    expect(await recorded()).toEqual(
      Object.entries(FILES).map(([file, sql], i) => ({
        version: i + 1,
        name: file.slice(5, -4),
        checksum: createHash('sha256').update(sql).digest('hex'),
      })),
    );

    expect(await migrate(pool, set)).toEqual([]);
    expect((await pool.query('SELECT count(*)::int AS n FROM runner_items')).rows[0].n).toBe(1);
  });

  it('applies only the new file when one is added', async () => {
    await migrate(pool, set);
    await writeFile(join(folder, '0004_second_item.sql'), "INSERT INTO runner_items VALUES (2, 'second');\n");
    expect(await migrate(pool, set)).toEqual([4]);
  });

  it('stops when an applied file changed (a comment added), naming the file, and applies nothing more', async () => {
    await migrate(pool, set);
    await appendFile(join(folder, '0002_item_names.sql'), '-- a comment added later\n');
    await writeFile(join(folder, '0004_second_item.sql'), "INSERT INTO runner_items VALUES (2, 'second');\n");
    const attempt = migrate(pool, set);
    await expect(attempt).rejects.toThrow(MigrationHistoryError);
    await expect(attempt).rejects.toThrow(`${set.component} migration 0002_item_names changed after it was applied`);
    expect((await recorded()).map((r) => r.version)).toEqual([1, 2, 3]);
  });

  it('stops when the database has a migration this code has no file for', async () => {
    await migrate(pool, set);
    await rm(join(folder, '0003_first_item.sql'));
    await expect(migrate(pool, set)).rejects.toThrow(
      new MigrationHistoryError(
        `${set.component} migration 0003 (first_item) is applied but has no file: the database is newer than this code`,
      ),
    );
  });

  async function historyBeforeChecksums(name: string): Promise<void> {
    await pool.query(FILES['0001_items.sql']!);
    // The history as migrate() left it before checksums: no checksum for this row.
    await migrate(pool, { ...set, folder: pathToFileURL(`${await emptyFolder()}/`) });
    await pool.query(
      'INSERT INTO public.ledger_migrations (component, version, name, checksum) VALUES ($1, 1, $2, NULL)',
      [set.component, name],
    );
  }

  it('stops on a row without a checksum that the set does not know from before checksums', async () => {
    await historyBeforeChecksums('items, from some other build');
    set = { ...set, recordedBeforeChecksums: { 1: 'items, as the old code named it' } };
    await expect(migrate(pool, set)).rejects.toThrow(
      new MigrationHistoryError(
        `${set.component} migration 0001_items was applied without a checksum as "items, from some other build", which is not a migration this code knows from before checksums`,
      ),
    );
    expect((await recorded()).map((r) => r.checksum)).toEqual([null]);
  });

  it('records the checksum of a row applied before checksums were kept, then holds it to that', async () => {
    await historyBeforeChecksums('items, as the old code named it');
    set = { ...set, recordedBeforeChecksums: { 1: 'items, as the old code named it' } };
    expect(await migrate(pool, set)).toEqual([2, 3]);
    const first = (await recorded())[0]!;
    expect(first.checksum).toBe(createHash('sha256').update(FILES['0001_items.sql']!).digest('hex'));

    await appendFile(join(folder, '0001_items.sql'), '-- changed\n');
    await expect(migrate(pool, set)).rejects.toThrow(
      `${set.component} migration 0001_items changed after it was applied`,
    );
  });

  it('rolls back and does not record a migration that fails', async () => {
    await writeFile(join(folder, '0004_broken.sql'), 'CREATE TABLE runner_broken (id int);\nSELECT no_such_column;\n');
    await expect(migrate(pool, set)).rejects.toThrow(`${set.component} migration 0004_broken failed`);
    expect((await recorded()).map((r) => r.version)).toEqual([1, 2, 3]);
    expect((await pool.query("SELECT to_regclass('runner_broken') AS t")).rows[0].t).toBeNull();
  });

  it.each([
    ['a gap', ['0001_a.sql', '0003_c.sql'], '0003_c.sql in'],
    ['a repeated version', ['0001_a.sql', '0002_b.sql', '0002_c.sql'], '0002_c.sql in'],
    ['not starting at 1', ['0002_b.sql'], '0002_b.sql in'],
    ['a name without its number', ['0001_a.sql', 'b.sql'], 'b.sql in'],
    ['a dash in the name', ['0001_a.sql', '0002_item-names.sql'], '0002_item-names.sql in'],
    ['a short number', ['1_a.sql'], '1_a.sql in'],
  ])('refuses a folder with %s, before touching the database', async (_, names, message) => {
    const odd = await emptyFolder();
    for (const name of names) await writeFile(join(odd, name), 'SELECT 1;\n');
    const oddSet = { component: set.component, folder: pathToFileURL(`${odd}/`) };
    await expect(readMigrations(oddSet)).rejects.toThrow(message);
    await expect(migrate(pool, oddSet)).rejects.toThrow(message);
    expect(await recorded()).toEqual([]);
  });

  it('reads only the .sql files of the folder (a snapshot or a note may sit beside them)', async () => {
    await writeFile(join(folder, 'schema.snapshot.txt'), 'not a migration');
    expect((await readMigrations(set)).map((m) => m.file)).toEqual([
      '0001_items',
      '0002_item_names',
      '0003_first_item',
    ]);
  });

  async function emptyFolder(): Promise<string> {
    const path = await mkdtemp(join(tmpdir(), 'ledger-migrations-odd-'));
    folders.push(path);
    return path;
  }
});

const folders: string[] = [];
afterAll(() => Promise.all(folders.map((f) => rm(f, { recursive: true, force: true }))));
