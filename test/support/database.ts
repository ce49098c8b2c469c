import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * A fresh, empty database on the suite's PostgreSQL (started by the global
 * setup), so spec files never see each other's rows.
 */
export async function createTestDatabase(label = 't'): Promise<string> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('TEST_DATABASE_URL is not set: run the suite through jest (npm test)');
  const name = `${label
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 40)}_${randomBytes(5).toString('hex')}`;
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
