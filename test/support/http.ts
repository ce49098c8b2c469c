import { randomUUID } from 'node:crypto';
import type { TestApp } from './app.js';

export interface Reply {
  status: number;
  body: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- response bodies are asserted field by field
  headers: Record<string, unknown>;
}

export interface PostOptions {
  key?: string | null;
  idempotencyKey?: string | null;
  headers?: Record<string, string>;
}

/** Thin helpers over Fastify's inject: the real app, the real pipeline, no socket. */
export function client(t: TestApp) {
  async function request(method: 'GET' | 'POST', url: string, payload: unknown, options: PostOptions): Promise<Reply> {
    const key = options.key === undefined ? t.keys.admin : options.key;
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (method === 'POST') {
      const idempotencyKey = options.idempotencyKey === undefined ? randomUUID() : options.idempotencyKey;
      if (idempotencyKey !== null) headers['idempotency-key'] = idempotencyKey;
    }
    const response = await t.app.inject({
      method,
      url,
      headers,
      ...(payload === undefined
        ? {}
        : typeof payload === 'string'
          ? { payload, headers: { ...headers, 'content-type': 'application/json' } }
          : { payload: payload as object }),
    });
    const text = response.body;
    return {
      status: response.statusCode,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
      headers: response.headers,
    };
  }
  return {
    post: (url: string, payload?: unknown, options: PostOptions = {}) => request('POST', url, payload, options),
    get: (url: string, options: PostOptions = {}) => request('GET', url, undefined, options),
    /** The event store's head: a refused request must leave it where it was. */
    head: () => t.runtime.eventStore.headPosition(),
  };
}

/** A clock the test moves by hand: lease expiry without waiting. */
export class ManualClock {
  private ms: number;
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.ms = start;
  }
  now(): Date {
    return new Date(this.ms);
  }
  advanceSeconds(seconds: number): void {
    this.ms += seconds * 1000;
  }
}
