import { readFile } from 'node:fs/promises';
import { SERVICE_NODE_ARGS } from './service-node-args.js';

describe('the service node flags', () => {
  it('are the ones npm start and the Dockerfile run the service with', async () => {
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toContain(`node ${SERVICE_NODE_ARGS.join(' ')} dist/apps/ledger-api/src/main.js`);
    const dockerfile = await readFile('Dockerfile', 'utf8');
    expect(dockerfile).toContain(
      `CMD ["node", ${SERVICE_NODE_ARGS.map((a) => JSON.stringify(a)).join(', ')}, "dist/apps/ledger-api/src/main.js"]`,
    );
  });
});
