/**
 * The V8 flags the service runs with: a bound on the old generation keeps V8 from letting it
 * grow to about 4x what is live before collecting (its default on a host of 16 GB or more;
 * README, "Memory"). The Dockerfile's CMD and `npm start` write the same flags out (they cannot
 * import this; service-node-args.spec.ts holds them equal); the bench and the tests that run
 * the service as a process pass these.
 */
export const SERVICE_NODE_ARGS: readonly string[] = ['--max-old-space-size=1024'];
