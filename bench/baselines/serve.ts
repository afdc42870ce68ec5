import type { Express } from 'express';

/**
 * Serves a baseline peer on 127.0.0.1 until SIGTERM or SIGINT, then closes the server and the
 * clients it holds (`close`) and exits.
 */
export function serveUntilStopped(app: Express, port: number, close: () => Promise<unknown>): void {
  const server = app.listen(port, '127.0.0.1');
  server.keepAliveTimeout = 65_000;
  const stop = () => {
    server.close();
    server.closeAllConnections();
    void close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
