import autocannon from 'autocannon';
import os from 'node:os';

export type System = 'ours' | 'direct' | 'better-auth';

export interface ScenarioResult {
  system: System;
  name: string;
  concurrency: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  rps: number;
  errors: number;
  /** Responses with the expected status (their latencies make the percentiles). */
  ok: number;
  /** Requests the client gave up on; counted in errors and in the percentiles at the timeout. */
  timeouts: number;
  /** Other statuses seen, e.g. {"503": 2}. */
  statuses: Record<string, number>;
  duration_s: number;
  /** 1-minute load average when the scenario ended (2 cores shared with other work). */
  load1: number;
  tool: 'autocannon' | 'flow';
  /** Requests sent (autocannon builds a request as it sends it); some may still have been in flight at the end. */
  sent?: number;
  note?: string;
}

export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

const round = (v: number | null, d = 2) => (v === null ? null : Math.round(v * 10 ** d) / 10 ** d);

export function summarise(
  base: Pick<ScenarioResult, 'system' | 'name' | 'concurrency' | 'tool' | 'sent'>,
  latencies: number[],
  extra: { ok: number; errors: number; timeouts: number; statuses: Record<string, number>; durationS: number; note?: string },
): ScenarioResult {
  const sorted = [...latencies].sort((a, b) => a - b);
  const ok = extra.ok;
  return {
    ...base,
    p50_ms: round(percentile(sorted, 50)),
    p95_ms: round(percentile(sorted, 95)),
    p99_ms: round(percentile(sorted, 99)),
    max_ms: round(sorted.length ? sorted[sorted.length - 1] : null),
    rps: round(extra.durationS > 0 ? ok / extra.durationS : 0, 1) ?? 0,
    errors: extra.errors,
    ok,
    timeouts: extra.timeouts,
    statuses: extra.statuses,
    duration_s: round(extra.durationS, 2) ?? 0,
    load1: round(os.loadavg()[0], 2) ?? 0,
    ...(extra.note ? { note: extra.note } : {}),
  };
}

export interface LoadSpec {
  system: System;
  name: string;
  url: string; // origin, e.g. http://127.0.0.1:3101
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  concurrency: number;
  /** Either a duration or an exact number of requests. */
  durationS?: number;
  amount?: number;
  /** Stops the run after this many seconds whatever `amount` says (requests in flight are dropped). */
  maxS?: number;
  /** Requests per second across all connections (autocannon's overallRate); unpaced when absent. */
  rate?: number;
  timeoutS?: number;
  expect: number[];
  /** Builds each request's body and extra headers; `i` counts requests across all connections. */
  build?: (i: number, ctx: Record<string, unknown>) => { body?: string; headers?: Record<string, string> };
  /** Sees every response (after `build` of the same connection); return false to count it as an error. */
  onResponse?: (status: number, body: string, headers: Record<string, string | string[]>, ctx: Record<string, unknown>) => boolean | void;
  note?: string;
  /** Also receives every latency that makes this run's percentiles, e.g. to pool alternated runs of one kind. */
  latencies?: number[];
}

/**
 * One autocannon run. Latencies are collected per response from autocannon's tracker (so p95 and the
 * exact max are available); only expected statuses count as successes, timeouts count as errors and
 * enter the percentiles at the timeout value (a lower bound, flagged by `timeouts`).
 */
export async function runLoad(spec: LoadSpec): Promise<ScenarioResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let unexpected = 0;
  let bodyErrors = 0;
  let timeouts = 0;
  let connErrors = 0;
  let counter = 0;
  const timeoutS = spec.timeoutS ?? 30;

  const request: autocannon.Request = {
    method: spec.method,
    path: spec.path,
    headers: { ...(spec.method === 'POST' ? { 'content-type': 'application/json' } : {}), ...spec.headers },
  };
  if (spec.build) {
    const build = spec.build;
    request.setupRequest = (req: autocannon.Request, context: object) => {
      const b = build(counter++, context as Record<string, unknown>);
      return { ...req, ...(b.body !== undefined ? { body: b.body } : {}), headers: { ...req.headers, ...b.headers } };
    };
  }
  if (spec.onResponse) {
    const on = spec.onResponse;
    request.onResponse = ((status: number, body: string, context: Record<string, unknown>, headers: Record<string, string | string[]>) => {
      const lower: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(headers ?? {})) lower[k.toLowerCase()] = v;
      if (spec.expect.includes(status) && on(status, body, lower, context) === false) bodyErrors += 1;
    }) as unknown as autocannon.Request['onResponse'];
  }

  const t0 = process.hrtime.bigint();
  let instance!: autocannon.Instance;
  const finished = new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(
      {
        url: spec.url,
        connections: spec.concurrency,
        pipelining: 1,
        timeout: timeoutS,
        ...(spec.rate ? { overallRate: spec.rate } : {}),
        ...(spec.amount ? { amount: spec.amount } : { duration: spec.durationS ?? 5 }),
        requests: [request],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
  let stoppedEarly = false;
  const stopper = spec.maxS
    ? setTimeout(() => {
        stoppedEarly = true;
        instance.stop();
      }, spec.maxS * 1000)
    : undefined;
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    if (spec.expect.includes(statusCode)) latencies.push(responseTime);
    else unexpected += 1;
  });
  instance.on('reqError', (err: Error) => {
    if (/timed out/.test(err.message)) {
      timeouts += 1;
      latencies.push(timeoutS * 1000);
    } else connErrors += 1;
  });
  const result = await finished.finally(() => clearTimeout(stopper));
  // Wall time of the run (autocannon's own `duration` counts whole seconds, too coarse for short runs).
  const durationS = Number(process.hrtime.bigint() - t0) / 1e9;
  void result;
  spec.latencies?.push(...latencies);
  return summarise(
    { system: spec.system, name: spec.name, concurrency: spec.concurrency, tool: 'autocannon', sent: counter },
    latencies,
    {
      ok: latencies.length - timeouts - bodyErrors,
      errors: unexpected + bodyErrors + timeouts + connErrors,
      timeouts,
      statuses,
      durationS,
      note: [spec.note, stoppedEarly ? `stopped at the ${spec.maxS} s time box before all ${spec.amount} requests were answered (those in flight are not counted)` : undefined]
        .filter(Boolean)
        .join('; ') || undefined,
    },
  );
}
