import { KurrentDbEventStore } from './kurrentdb-event-store.js';
import { eventStoreContract } from '../testing/index.js';

// Needs a KurrentDB 25.1+ (docker-compose.yml runs one), e.g.
// EVENTSTORE_CONNECTION_STRING=kurrentdb://localhost:2113?tls=false npm test
// Without it, jest.config.js leaves this file out and the run prints why.
const connectionString = process.env.EVENTSTORE_CONNECTION_STRING ?? '';

describe('KurrentDbEventStore contract', () => {
  eventStoreContract({
    // The store is shared between runs: the server-side filter keeps subscriptions to this suite's streams.
    streamPrefix: 'contract-',
    create: () => KurrentDbEventStore.connect({ connectionString, streamPrefixes: ['contract-'] }),
  });
});
