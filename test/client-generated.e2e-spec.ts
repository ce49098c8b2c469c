import { GENERATED_DIR, generateClient, generatedFiles, readGenerated } from '../libs/client/codegen.js';
import { startTestApp, type TestApp } from '@ledger/test-support';

/**
 * The committed client (libs/client/src/generated) is what the generator makes of the
 * document the service serves now. `npm run client:generate` (UPDATE_CLIENT=1) rewrites it.
 */
describe('generated client', () => {
  let t: TestApp;
  let document: object;
  beforeAll(async () => {
    t = await startTestApp('client-generated');
    document = (await t.app.inject({ method: 'GET', url: '/docs-json' })).json();
  });
  afterAll(async () => {
    await t.close();
  });

  it('is current with the served OpenAPI document', async () => {
    if (process.env['UPDATE_CLIENT'] === '1') await generateClient(document, GENERATED_DIR);
    const expected = await generatedFiles(document);
    const committed = await readGenerated(GENERATED_DIR);
    expect([...committed.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [path, text] of expected) {
      expect({ path, text: committed.get(path) }).toEqual({ path, text });
    }
  });
});
