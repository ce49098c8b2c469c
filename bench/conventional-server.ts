/**
 * The conventional design, as a baseline measured in the same run (issue 18): a small
 * Fastify + `pg` service as the platforms this ledger replaces built it. An account is a
 * row with a mutable `balance` and a `status`; a project start is one transaction:
 *
 *   look the Idempotency-Key up (a repeat answers as the first time, 422 if the body differs)
 *   BEGIN
 *   UPDATE accounts SET balance = balance - $cost WHERE id = $1 AND balance >= $cost
 *   INSERT the project (409 already_exists if its id is taken)
 *   INSERT a ledger row (the history such a service keeps beside the balance)
 *   INSERT the idempotency record with the answer
 *   COMMIT
 *
 * Same API shape as the service (`POST /v1/projects` with `Authorization: Bearer` and
 * `Idempotency-Key`, the same body and answers), the same validation (class-validator on
 * a DTO with the domain's limits, unknown fields refused), on the same PostgreSQL, in its
 * own process, so the same load generator drives both. Only the start is implemented:
 * it is what the bench compares. Refusals are kept too (a repeat gets the same 402).
 *
 * Env: DATABASE_URL (its own database; the schema is created here), CONVENTIONAL_API_KEY,
 * PORT (0: any). Prints the port it listens on.
 */
import 'reflect-metadata';
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyReply } from 'fastify';
import pg from 'pg';
import { plainToInstance } from 'class-transformer';
import { IsInt, IsObject, IsOptional, IsString, Length, Matches, Max, Min, validate } from 'class-validator';
import { AMOUNT_MAX, DEADLINE_SECONDS_MAX, ID_PATTERN, TEXT_LENGTH_MAX } from '@ledger/domain';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
  id text PRIMARY KEY,
  balance bigint NOT NULL CHECK (balance >= 0),
  status text NOT NULL DEFAULT 'active',
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS projects (
  id text PRIMARY KEY,
  account_id text NOT NULL REFERENCES accounts (id),
  status text NOT NULL,
  cost bigint NOT NULL,
  kind text,
  external_task_id text,
  deadline_seconds int,
  metadata jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS projects_account ON projects (account_id, created_at);
CREATE TABLE IF NOT EXISTS ledger_entries (
  position bigserial PRIMARY KEY,
  account_id text NOT NULL,
  type text NOT NULL,
  amount bigint NOT NULL,
  balance_after bigint NOT NULL,
  project_id text,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ledger_entries_account ON ledger_entries (account_id, position);
CREATE TABLE IF NOT EXISTS idempotency_keys (
  caller text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  status int NOT NULL,
  body text NOT NULL, -- as text: a repeat gets the same bytes (jsonb would reorder the keys)
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (caller, key)
);`;

/** The start body, with the service's rules (API.md: ids, amounts, text lengths, deadline). */
class StartProjectBody {
  @Matches(ID_PATTERN)
  @IsString()
  projectId!: string;

  @Matches(ID_PATTERN)
  @IsString()
  accountId!: string;

  @Max(AMOUNT_MAX)
  @Min(1)
  @IsInt()
  cost!: number;

  @IsOptional()
  @IsString()
  @Length(1, TEXT_LENGTH_MAX)
  kind?: string;

  @IsOptional()
  @IsString()
  @Length(1, TEXT_LENGTH_MAX)
  externalTaskId?: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(DEADLINE_SECONDS_MAX)
  deadlineSeconds?: number;

  @IsOptional()
  @IsObject()
  metadata?: Record<string, unknown>;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

const CALLER = 'bench';
const sha256 = (text: string) => createHash('sha256').update(text).digest();
const keyDigest = sha256(process.env.CONVENTIONAL_API_KEY ?? '');
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
pool.on('error', () => undefined);
await pool.query(SCHEMA);

const failure = (status: number, code: string, message: string, details?: unknown): Answer => ({
  status,
  body: { error: { code, message, ...(details === undefined ? {} : { details }) } },
});
const send = (reply: FastifyReply, answer: Answer) => reply.code(answer.status).send(answer.body);

function authenticated(header: string | undefined): boolean {
  const token = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
  return token !== undefined && timingSafeEqual(sha256(token), keyDigest);
}

async function recorded(key: string, hash: string): Promise<Answer | undefined> {
  const { rows } = await pool.query<{ request_hash: string; status: number; body: string }>(
    'SELECT request_hash, status, body FROM idempotency_keys WHERE caller = $1 AND key = $2',
    [CALLER, key],
  );
  const row = rows[0];
  if (!row) return undefined;
  if (row.request_hash !== hash)
    return failure(422, 'idempotency_key_reused', 'this Idempotency-Key was already used with a different request');
  return { status: row.status, body: JSON.parse(row.body) as Record<string, unknown> };
}

/** A refusal is kept like an acceptance, outside the rolled-back transaction. */
async function keepRefusal(key: string, hash: string, answer: Answer): Promise<Answer> {
  await pool.query(
    'INSERT INTO idempotency_keys (caller, key, request_hash, status, body) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
    [CALLER, key, hash, answer.status, JSON.stringify(answer.body)],
  );
  return (await recorded(key, hash)) ?? answer;
}

async function start(key: string, hash: string, body: StartProjectBody): Promise<Answer> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const debited = await client.query<{ balance: string }>(
      `UPDATE accounts SET balance = balance - $2, updated_at = now()
       WHERE id = $1 AND status = 'active' AND balance >= $2 RETURNING balance`,
      [body.accountId, body.cost],
    );
    const balance = debited.rows[0]?.balance;
    if (balance === undefined) {
      await client.query('ROLLBACK');
      return keepRefusal(key, hash, failure(402, 'insufficient_credits', 'the account has too few credits'));
    }
    const inserted = await client.query(
      `INSERT INTO projects (id, account_id, status, cost, kind, external_task_id, deadline_seconds, metadata)
       VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
      [
        body.projectId,
        body.accountId,
        body.cost,
        body.kind ?? null,
        body.externalTaskId ?? null,
        body.deadlineSeconds ?? null,
        body.metadata ?? null,
      ],
    );
    if (inserted.rowCount === 0) {
      await client.query('ROLLBACK');
      return keepRefusal(key, hash, failure(409, 'already_exists', 'a project with this id exists'));
    }
    const entry = await client.query<{ position: string }>(
      `INSERT INTO ledger_entries (account_id, type, amount, balance_after, project_id)
       VALUES ($1, 'Debited', $2, $3, $4) RETURNING position`,
      [body.accountId, body.cost, balance, body.projectId],
    );
    const answer: Answer = {
      status: 201,
      body: {
        projectId: body.projectId,
        status: 'pending',
        balance: Number(balance),
        position: Number(entry.rows[0]!.position),
      },
    };
    await client.query(
      'INSERT INTO idempotency_keys (caller, key, request_hash, status, body) VALUES ($1, $2, $3, $4, $5)',
      [CALLER, key, hash, answer.status, JSON.stringify(answer.body)],
    );
    await client.query('COMMIT');
    return answer;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    // The same key sent twice at once: the other transaction kept its answer; this one answers with it.
    if ((error as { code?: string }).code === '23505' && (error as { table?: string }).table === 'idempotency_keys') {
      const first = await recorded(key, hash);
      if (first) return first;
    }
    throw error;
  } finally {
    client.release();
  }
}

const app = Fastify({ logger: false });
app.post('/v1/projects', async (request, reply) => {
  if (!authenticated(request.headers.authorization))
    return send(reply, failure(401, 'unauthenticated', 'a valid API key is required'));
  const key = request.headers['idempotency-key'];
  if (typeof key !== 'string' || key.length < 1 || key.length > 255)
    return send(reply, failure(400, 'validation_failed', 'the Idempotency-Key header is required (1-255 chars)'));
  if (typeof request.body !== 'object' || request.body === null || Array.isArray(request.body))
    return send(reply, failure(400, 'validation_failed', 'the body must be a JSON object'));
  const body = plainToInstance(StartProjectBody, request.body);
  const problems = await validate(body, {
    whitelist: true,
    forbidNonWhitelisted: true,
    validationError: { target: false, value: false },
  });
  if (problems.length > 0)
    return send(
      reply,
      failure(
        400,
        'validation_failed',
        'the request is invalid',
        problems.map((p) => ({ field: p.property, problems: Object.values(p.constraints ?? {}) })),
      ),
    );
  const hash = sha256(`POST\n/v1/projects\n${JSON.stringify(request.body)}`).toString('hex');
  const first = await recorded(key, hash);
  return send(reply, first ?? (await start(key, hash, body)));
});
// Unparseable JSON and the like are the caller's (400); anything else is the database's (503).
app.setErrorHandler((error: { statusCode?: number }, _request, reply) =>
  send(
    reply,
    (error.statusCode ?? 500) < 500
      ? failure(400, 'validation_failed', 'the request is invalid')
      : failure(503, 'unavailable', 'try again'),
  ),
);

await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
process.on('SIGTERM', () => void app.close().then(() => pool.end().then(() => process.exit(0))));
