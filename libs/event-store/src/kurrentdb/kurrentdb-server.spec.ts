import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { IncompatibleStoreError } from '../errors.js';
import { withLeader } from './kurrentdb-event-store.js';
import { checkServerFeatures, compareVersions, MIN_SERVER_VERSION, parseVersion } from './kurrentdb-server.js';

const APPEND_SESSION = 'kurrentdb.protocol.v2.streams.streamsservice/appendsession';

describe('the server the adapter accepts', () => {
  it('reads the versions servers report', () => {
    expect(parseVersion('25.1.4')).toEqual([25, 1, 4]);
    expect(parseVersion('25.1.4.0')).toEqual([25, 1, 4]);
    expect(parseVersion('v26.1.0-rc.1')).toEqual([26, 1, 0]);
    expect(parseVersion('25.1')).toEqual([25, 1, 0]);
    expect(parseVersion('unknown')).toBeUndefined();
    expect(compareVersions([25, 1, 10], [25, 1, 4])).toBeGreaterThan(0);
    expect(compareVersions([24, 10, 9], [25, 1, 4])).toBeLessThan(0);
  });

  it(`refuses versions below ${MIN_SERVER_VERSION} and servers without the v2 append session`, () => {
    const methods = new Set([APPEND_SESSION]);
    expect(() => checkServerFeatures({ version: '25.1.0', methods })).toThrow(IncompatibleStoreError);
    expect(() => checkServerFeatures({ version: '25.1.4', methods: new Set() })).toThrow(/multi-stream append/);
    expect(() => checkServerFeatures({ version: undefined, methods: new Set() })).toThrow(IncompatibleStoreError);
    expect(() => checkServerFeatures({ version: '25.1.4', methods })).not.toThrow();
    expect(() => checkServerFeatures({ version: '26.1.0.1234', methods })).not.toThrow();
  });

  it('pins the client to exactly the version installed (the adapter uses its internals and its unstable v2 protocol)', () => {
    const require = createRequire(import.meta.url);
    const manifest = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const installed = (require('@kurrent/kurrentdb-client/package.json') as { version: string }).version;
    expect(manifest.dependencies['@kurrent/kurrentdb-client']).toBe(installed);
    expect(installed).toBe('1.3.1');
  });
});

describe('withLeader', () => {
  const leader = { host: 'node-2.internal', port: 2114 };

  it('points a single-host connection string at the leader, keeping credentials and options', () => {
    expect(withLeader('kurrentdb://admin:changeit@node-1:2113?tls=true&tlsVerifyCert=false', leader)).toBe(
      'kurrentdb://admin:changeit@node-2.internal:2114?tls=true&tlsVerifyCert=false',
    );
    expect(withLeader('esdb://127.0.0.1:2113?tls=false', leader)).toBe('esdb://node-2.internal:2114?tls=false');
  });

  it('leaves cluster strings alone: the new client discovers the leader itself', () => {
    for (const cluster of [
      'kurrentdb+discover://cluster.internal:2113',
      'kurrentdb://a:2113,b:2113,c:2113?tls=false',
    ]) {
      expect(withLeader(cluster, leader)).toBe(cluster);
    }
  });
});
