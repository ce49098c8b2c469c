import { KurrentDbEventStore } from './kurrentdb-event-store.js';
import { eventStoreContract, KurrentDbDouble } from '../testing/index.js';

// The whole contract through the real client (grpc-js and its Rust bridge) against the
// wire-level double of the server (testing/kurrentdb-double): what the double cannot prove
// is listed in its header; `npm run test:kurrentdb` runs the same suite against a real server.
describe('KurrentDbEventStore contract on the kurrentdb double', () => {
  let double: KurrentDbDouble;
  beforeAll(async () => {
    double = await KurrentDbDouble.start();
  });
  afterAll(async () => {
    await double.stop();
  });
  eventStoreContract({
    streamPrefix: 'contract-',
    create: () =>
      KurrentDbEventStore.connect({ connectionString: double.connectionString, streamPrefixes: ['contract-'] }),
  });
});
