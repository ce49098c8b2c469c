import { KurrentDbEventStore } from './kurrentdb-event-store.js';
import { eventStoreContract } from '../testing/index.js';

// Needs a KurrentDB 25.1.4+ (docker-compose.yml runs one): `npm run test:kurrentdb` starts it
// and runs this, or EVENTSTORE_CONNECTION_STRING=kurrentdb://localhost:2113?tls=false npm test.
// Without it, jest.config.js leaves this file out and the run prints why; CI has no Docker
// engine, so there the same contract runs on the double (kurrentdb-double.int-spec.ts).
const connectionString = process.env.EVENTSTORE_CONNECTION_STRING ?? '';

describe('KurrentDbEventStore contract on a real KurrentDB server', () => {
  eventStoreContract({
    // The store is shared between runs: the server-side filter keeps subscriptions to this suite's streams.
    streamPrefix: 'contract-',
    create: () => KurrentDbEventStore.connect({ connectionString, streamPrefixes: ['contract-'] }),
  });
});
