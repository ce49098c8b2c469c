import type pg from 'pg';

/**
 * One schema as stable text, from the catalog: its tables (columns in their
 * physical order with type, nullability and default; constraints; indexes;
 * triggers), sequences, views and functions (their whole definition). What a
 * migration does to a deployed database shows up as a diff of this text.
 */
export async function dumpSchema(db: pg.Pool | pg.Client, schema: string): Promise<string> {
  const out: string[] = [`-- schema ${schema}, as its migrations leave it`];
  const tables = await db.query<{ name: string; kind: string }>(
    `SELECT c.relname AS name, c.relkind AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY c.relname`,
    [schema],
  );
  for (const table of tables.rows) {
    const qualified = `${schema}.${table.name}`;
    out.push('', `${table.kind === 'v' ? 'view' : table.kind === 'm' ? 'materialized view' : 'table'} ${qualified}`);
    const columns = await db.query<{ line: string }>(
      `SELECT concat_ws(' ', a.attname, format_type(a.atttypid, a.atttypmod),
                        CASE WHEN a.attnotnull THEN 'NOT NULL' END,
                        'DEFAULT ' || pg_get_expr(d.adbin, d.adrelid)) AS line
       FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [qualified],
    );
    out.push(...columns.rows.map((r) => `  column ${r.line}`));
    // (Not the NOT NULL constraints PostgreSQL 18 lists too: the columns say them already.)
    const constraints = await db.query<{ line: string }>(
      `SELECT conname || ': ' || pg_get_constraintdef(oid) AS line FROM pg_constraint
       WHERE conrelid = $1::regclass AND contype <> 'n' ORDER BY conname`,
      [qualified],
    );
    out.push(...constraints.rows.map((r) => `  constraint ${r.line}`));
    const indexes = await db.query<{ line: string }>(
      'SELECT indexdef AS line FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexname',
      [schema, table.name],
    );
    out.push(...indexes.rows.map((r) => `  index ${r.line}`));
    const triggers = await db.query<{ line: string }>(
      `SELECT pg_get_triggerdef(oid) AS line FROM pg_trigger
       WHERE tgrelid = $1::regclass AND NOT tgisinternal ORDER BY tgname`,
      [qualified],
    );
    out.push(...triggers.rows.map((r) => `  trigger ${r.line}`));
    if (table.kind === 'v' || table.kind === 'm') {
      const view = await db.query<{ def: string }>('SELECT pg_get_viewdef($1::regclass, true) AS def', [qualified]);
      out.push(`  as ${view.rows[0]!.def.trim()}`);
    }
  }
  const sequences = await db.query<{ line: string }>(
    `SELECT format('sequence %s.%s %s start %s increment %s cache %s%s', schemaname, sequencename, data_type,
                   start_value, increment_by, cache_size, CASE WHEN cycle THEN ' cycle' ELSE '' END) AS line
     FROM pg_sequences WHERE schemaname = $1 ORDER BY sequencename`,
    [schema],
  );
  if (sequences.rows.length > 0) out.push('', ...sequences.rows.map((r) => r.line));
  const functions = await db.query<{ def: string }>(
    `SELECT pg_get_functiondef(p.oid) AS def FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = $1 AND p.prokind IN ('f', 'p') ORDER BY p.proname, pg_get_function_identity_arguments(p.oid)`,
    [schema],
  );
  for (const f of functions.rows) out.push('', f.def.trimEnd());
  return `${out.join('\n')}\n`;
}
