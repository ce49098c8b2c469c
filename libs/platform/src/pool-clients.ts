import type pg from 'pg';

/**
 * Listens for errors on a client checked out of a pg.Pool, until it is released. The pool
 * removes its own listener while a client is out, so a connection that dies under it (the
 * server killed or restarted) would emit an 'error' nobody handles, and that ends the
 * process. The client's queries fail with the error anyway. Returns the release to call
 * instead of `client.release`.
 */
export function listenWhileCheckedOut(client: pg.PoolClient): (error?: Error | boolean) => void {
  const ignore = () => undefined;
  client.on('error', ignore);
  return (error) => {
    client.off('error', ignore);
    client.release(error);
  };
}
