import type { Registry } from 'prom-client';
import { AppError } from './errors';
import { listenHttp, type RunningServer } from './http-server';
import { serveMetrics } from './metrics';

export type ReadinessCheck = () => Promise<void>;

/** `{ dependency: check }`; a check throws when its dependency is not usable. */
export async function readiness(checks: Record<string, ReadinessCheck>, timeoutMs = 2000) {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          check(),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
          }),
        ]);
        return [name, 'up'] as const;
      } catch {
        return [name, 'down'] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const dependencies = Object.fromEntries(entries);
  const ready = entries.every(([, s]) => s === 'up');
  return { status: ready ? ('ready' as const) : ('not_ready' as const), dependencies };
}

/**
 * `{ part: check }`; a check returns why the process cannot heal in place (it should be
 * restarted), or undefined while it can. Unlike readiness, a dependency that is merely down does
 * not fail liveness: restarting the process would not bring it back.
 */
export type LivenessCheck = () => string | undefined;

export function liveness(checks: Record<string, LivenessCheck> = {}) {
  const failing = Object.fromEntries(Object.entries(checks).flatMap(([name, check]) => {
    const reason = check();
    return reason ? [[name, reason]] : [];
  }));
  return Object.keys(failing).length ? { status: 'not_live' as const, failing } : { status: 'live' as const };
}

/**
 * For runtimes that restart a process only when it exits (docker compose's `restart:
 * unless-stopped` ignores an unhealthy container): checks liveness every `intervalMs` and exits
 * with code 70 once it fails. Enabled by EXIT_WHEN_NOT_LIVE; returns a function that stops it.
 */
export function exitWhenNotLive(
  checks: Record<string, LivenessCheck>,
  logger: { fatal(obj: object, msg: string): void },
  intervalMs = 5_000,
): () => void {
  const timer = setInterval(() => {
    const l = liveness(checks);
    if (l.status === 'live') return;
    logger.fatal({ failing: l.failing }, 'not live: exiting so that the supervisor starts the process again');
    process.exit(70);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * A tiny HTTP server for processes that have no other (worker, DB processor): /health/live,
 * /health/ready and, given a registry, /metrics (Prometheus text format).
 */
export function startHealthServer(
  host: string,
  port: number,
  checks: Record<string, ReadinessCheck>,
  liveChecks: Record<string, LivenessCheck> = {},
  registry?: Registry,
): Promise<RunningServer> {
  return listenHttp((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/health/live') {
      const l = liveness(liveChecks);
      return send(l.status === 'live' ? 200 : 503, l);
    }
    if (req.url === '/health/ready') {
      readiness(checks).then(
        (r) => send(r.status === 'ready' ? 200 : 503, r),
        () => send(503, { status: 'not_ready' }),
      );
      return;
    }
    if (req.url === '/metrics' && registry) return serveMetrics(registry, res);
    send(404, new AppError('NOT_FOUND').toBody());
  }, host, port);
}
