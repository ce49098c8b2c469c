/**
 * The raw HTTP ceiling: a plain Fastify POST endpoint that parses a JSON body
 * and returns a small JSON body. Run as its own process so the load client
 * and the server don't share a core's event loop, as with the service.
 */
import Fastify from 'fastify';

const app = Fastify({ logger: false });
let n = 0;
app.post('/echo', async (request) => ({ ok: true, n: ++n, size: JSON.stringify(request.body).length }));
const port = Number(process.env.PORT ?? 0);
await app.listen({ port, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`${typeof address === 'object' && address ? address.port : port}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
