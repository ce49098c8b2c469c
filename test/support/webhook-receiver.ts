import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a receiver got: what a real endpoint would see. */
export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** The status it answered. */
  answered: number;
}

/**
 * A real HTTP receiver on loopback for outbound webhook tests. `answer` decides each
 * request's status (default 204) and may delay it; `waitFor` resolves when a condition
 * on what arrived holds, within a bound.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  /** The status to answer, or a status with headers (a redirect's Location). */
  answer: (
    request: Omit<ReceivedWebhook, 'answered'>,
  ) => number | { status: number; headers: Record<string, string> } | Promise<number> = () => 204;
  private readonly server: http.Server;
  private readonly listeners = new Set<() => void>();

  private constructor() {
    this.server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const seen = {
          path: request.url ?? '/',
          headers: Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k, String(v)])),
          body: Buffer.concat(chunks).toString('utf8'),
        };
        void Promise.resolve(this.answer(seen)).then((answer) => {
          const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : answer;
          this.received.push({ ...seen, answered: status });
          for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
          response.statusCode = status;
          response.end();
          this.listeners.forEach((listener) => listener());
        });
      });
    });
  }

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    receiver.server.listen(0, '127.0.0.1');
    await once(receiver.server, 'listening');
    return receiver;
  }

  url(path = '/'): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** Resolves once `condition` holds on what arrived; rejects after `timeoutMs`. */
  waitFor(condition: (received: readonly ReceivedWebhook[]) => boolean, timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition(this.received)) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(
          new Error(
            `the receiver did not get what was awaited within ${timeoutMs} ms (${this.received.length} received)`,
          ),
        );
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, 'close').catch(() => undefined);
  }
}
