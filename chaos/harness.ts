import { randomBytes } from 'node:crypto';
import { accountsWithPrefix } from './lib/db';
import { MailArchive } from '../testkit/maildev';
import { makeUsers, SignupDriver, type Stage } from './lib/signups';
import { sleep, waitUntil } from '../testkit/wait';
import { pool, secondsSince } from './lib/util';
import type { Scenario, ScenarioCtx } from './scenarios';
import { CHAOS_SETTINGS } from './system';

export interface ScenarioResult extends FaultResult {
  created: number;
  verified: number;
  signin_ok: number;
  /** Users who received a code that verified (or whose ambiguous verify had created the account). */
  usable_code: number;
  codes_mailed: number;
  duplicate_code_mails: number;
  resends: number;
  /** Signups whose pre-fault code was refused after the fault (must be 0). */
  prefault_code_refused: number;
  /** Verifications whose answer was lost (503, connection reset) and that were settled by signing in. */
  verified_after_ambiguous: number;
  /** Users who never got a code mail without asking again (a stalled or lost mail). */
  needed_resend_for_first_mail: number;
  by_stage: Record<string, { n: number; verified: number; created: number }>;
  /** Traces of users not verified or with anomalies (first few). */
  details?: Array<{ email: string; stage: Stage; trace: string[]; anomalies: string[] }>;
}

export interface RunOptions {
  n: number;
  quick: boolean;
  /** The whole scenario must end by then (epoch ms). */
  hardDeadline: number;
  /** Seeded source of the scenario's timing (where the fault falls among the requests in flight). */
  random?: () => number;
  /** How long the processes that were ready before the fault get to be ready again after it (ms). */
  readyBoundMs?: number;
  /** How long the users may take to reach their stages before the fault (ms; default 2 min). */
  setupMs?: number;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same fault timings. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A long-lived process judged after every fault: its readiness URL, or a way to find it. */
export interface Watched {
  name: string;
  readyUrl: () => string;
}

async function readyStatus(url: string): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    const body = await res.text();
    return { ok: res.status === 200, detail: `${res.status} ${body.slice(0, 200)}` };
  } catch (err) {
    return { ok: false, detail: (err as Error).message };
  }
}

/** The processes (ours and any watched from outside) that answer ready right now. */
export async function readyNow(watched: Watched[]): Promise<Watched[]> {
  const states = await Promise.all(watched.map(async (w) => ((await readyStatus(w.readyUrl())).ok ? w : undefined)));
  return states.filter((w): w is Watched => w !== undefined);
}

/** 30 signups: 8 with the code in hand, 7 verifying as the fault hits, 8 just signed up, 7 during it. */
export function stageOf(i: number, n: number): Stage {
  return (['mail_received', 'verifying', 'signed_up', 'during_fault'] as const)[Math.floor((i * 4) / n)];
}

/** What every fault scenario reports, whatever its users do. */
export interface FaultResult {
  scenario: string;
  fault: string;
  expected: number;
  duplicates: number;
  lost: number;
  /** From the moment the fault was lifted until the last of the N users was done. */
  recovery_s: number | null;
  fault_s: number;
  total_s: number;
  /** What the clients saw: 503s, other 5xx, refused/reset connections, timeouts. */
  client_errors: { unavailable_503: number; other_5xx: number; connection: number; timeout: number };
  anomalies: string[];
  process_exits: string[];
  /** Long-lived processes that were ready before the fault and were not ready again within the bound after it. */
  not_ready_after_fault: string[];
  /** Seconds from lifting the fault until every process that was ready before it was ready again. */
  processes_ready_s: number | null;
  /** A brand-new flow after the scenario: "ok" or what went wrong. */
  fresh_flow: string;
  /** Delay between the requests in flight and the fault (ms), drawn from the run's seed. */
  fault_offset_ms: number;
  ok: boolean;
  error?: string;
}

/** A result with nothing done yet. */
export function emptyFaultResult(scenario: string, fault: string, n: number, clientErrors: FaultResult['client_errors'] = { unavailable_503: 0, other_5xx: 0, connection: 0, timeout: 0 }): FaultResult {
  return {
    scenario, fault, expected: n, duplicates: 0, lost: n, recovery_s: null, fault_s: 0, total_s: 0, client_errors: clientErrors, anomalies: [],
    process_exits: [], not_ready_after_fault: [], processes_ready_s: null, fresh_flow: 'not run', fault_offset_ms: 0, ok: false,
  };
}

/** What the users of a scenario do before, during and after the fault, and what is checked after. */
export interface Workload {
  /** Users brought to their stages before the fault; throws when the system was not healthy to begin with. */
  prepare(deadline: number): Promise<void>;
  /** Requests started just before the fault: in flight when it hits. */
  inFlight(deadline: number): Promise<unknown>[];
  /** Requests started while the fault lasts. */
  duringFault?(holdMs: number, deadline: number): void;
  /** Every user completes, as a patient user would; resolves with when the last one was done (undefined: not all were). */
  complete(deadline: number): Promise<number | undefined>;
  /** Postgres, HTTP and mail checks, written into the result. */
  check(deadline: number): Promise<void>;
  /** A brand-new flow after the fault: "ok" or what went wrong. */
  fresh(deadline: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * The course of every fault scenario: processes up and supervised, users at their stages, the fault
 * at a seeded moment among the requests in flight, the fault lifted, every process ready again
 * within the bound, every user done, the checks, a brand-new flow. `ok` judges the workload's part.
 */
export async function runFaultScenario(ctx: ScenarioCtx, scenario: Scenario, opts: RunOptions, result: FaultResult, work: Workload): Promise<void> {
  const { sys, log } = ctx;
  const t0 = Date.now();
  const processExits = result.process_exits;
  let faultAt = 0;
  let liftedAt = 0;
  let recovered = false;
  let watchdog: NodeJS.Timeout | undefined;
  try {
    const exits = await sys.ensureUp();
    if (exits.length) log(`before ${scenario.name}: ${exits.join(', ')} (restarted)`);
    // A process of ours that dies without being told to is a finding: note it, restart it, go on.
    let supervising = false;
    watchdog = setInterval(() => {
      if (supervising) return;
      supervising = true;
      void sys
        .superviseOnce()
        .then((found) => {
          for (const f of found) {
            processExits.push(f);
            log(`${scenario.name}: ${f}`);
          }
        })
        .catch(() => undefined)
        .finally(() => (supervising = false));
    }, 1_000);

    await work.prepare(Math.min(opts.hardDeadline, Date.now() + (opts.setupMs ?? 120_000)));

    // The fault, with requests in flight (and, for some workloads, more arriving while it lasts).
    const runDeadline = Math.min(opts.hardDeadline, Date.now() + (ctx.quick ? 5 : 7) * 60_000);
    const readyBefore = await readyNow([...sys.watched(), ...(ctx.watch ?? [])]);
    const inFlight = work.inFlight(runDeadline);
    result.fault_offset_ms = Math.round((opts.random ?? Math.random)() * 2_000);
    await sleep(result.fault_offset_ms);
    faultAt = Date.now();
    await scenario.inject(ctx);
    const hold = scenario.holdMs(ctx.quick);
    work.duringFault?.(hold, runDeadline);
    await sleep(hold);
    liftedAt = Date.now();
    await scenario.recover(ctx);
    recovered = true;
    result.fault_s = Math.round((Date.now() - faultAt) / 100) / 10;
    log(`${scenario.name}: fault lifted after ${result.fault_s} s; completing the flows`);

    // Every long-lived process that was ready before the fault must be ready again, by itself.
    const readyBound = opts.readyBoundMs ?? 90_000;
    const healed = waitUntil(async () => (await readyNow(readyBefore)).length === readyBefore.length, Math.min(readyBound, Math.max(0, opts.hardDeadline - Date.now())), 500).then(async (ok) => {
      if (ok) {
        result.processes_ready_s = secondsSince(liftedAt);
        return;
      }
      for (const w of readyBefore) {
        const st = await readyStatus(w.readyUrl());
        if (!st.ok) result.not_ready_after_fault.push(`${w.name} not ready ${Math.round(readyBound / 1000)} s after the fault was lifted (${st.detail})`);
      }
    });

    await Promise.allSettled(inFlight);
    const last = await work.complete(runDeadline);
    if (last !== undefined) result.recovery_s = Math.round((last - liftedAt) / 100) / 10;

    await healed;
    for (const line of result.not_ready_after_fault) log(`${scenario.name}: ${line}`);

    await sleep(1_500);
    await work.check(runDeadline);
    result.fresh_flow = await work.fresh(Math.min(opts.hardDeadline, Date.now() + 120_000));
    if (result.fresh_flow !== 'ok') log(`${scenario.name}: new flow after the fault ${result.fresh_flow}`);
  } catch (err) {
    result.error = (err as Error).message;
    log(`${scenario.name}: ERROR ${result.error}`);
  } finally {
    clearInterval(watchdog);
    await work.close();
    if (faultAt && !recovered) {
      // Never leave the stack broken for the next scenario (or for others sharing it).
      await scenario.recover(ctx).catch((err) => log(`${scenario.name}: recovery after an error failed: ${(err as Error).message}`));
    }
    if (scenario.cleanup) await scenario.cleanup(ctx).catch((err) => log(`${scenario.name}: cleanup failed: ${(err as Error).message}`));
    result.total_s = Math.round((Date.now() - t0) / 100) / 10;
    if (!result.fault_s && faultAt) result.fault_s = Math.round(((liftedAt || Date.now()) - faultAt) / 100) / 10;
  }
  result.ok =
    !result.error &&
    result.duplicates === 0 &&
    result.lost === 0 &&
    result.anomalies.length === 0 &&
    processExits.length === 0 &&
    result.not_ready_after_fault.length === 0 &&
    result.fresh_flow === 'ok';
}

/**
 * One signup scenario end to end: signups brought to their stages, the fault, recovery, every
 * verification completed as a user would, then Postgres and the mail archive checked.
 */
export async function runScenario(ctx: ScenarioCtx, scenario: Scenario, opts: RunOptions): Promise<ScenarioResult> {
  const runId = randomBytes(3).toString('hex');
  const prefix = `chaos-${runId}-${scenario.name}-`;
  const users = makeUsers(prefix, opts.n, (i) => stageOf(i, opts.n));
  const mail = new MailArchive(ctx.stack.MAILDEV_URL);
  mail.watch(users.map((u) => u.email));
  mail.start(700);
  const driver = new SignupDriver({
    apis: () => ctx.sys.apiBases(),
    mail,
    // A code delayed by an SMTP outage arrives up to ~2x the outage after it ends (retry backoff).
    resendAfterMs: ctx.quick ? 90_000 : 180_000,
    resendCooldownMs: Number(CHAOS_SETTINGS.RESEND_COOLDOWN_S) * 1000,
  });
  const result: ScenarioResult = {
    ...emptyFaultResult(scenario.name, scenario.fault, opts.n, driver.clientErrors),
    created: 0,
    verified: 0,
    signin_ok: 0,
    usable_code: 0,
    codes_mailed: 0,
    duplicate_code_mails: 0,
    resends: 0,
    prefault_code_refused: 0,
    verified_after_ambiguous: 0,
    needed_resend_for_first_mail: 0,
    by_stage: {},
  };
  const byStage = (s: Stage) => users.filter((u) => u.stage === s);
  await runFaultScenario(ctx, scenario, opts, result, {
    async prepare(setupDeadline) {
      // Signups whose code mail arrives before the fault.
      const early = [...byStage('mail_received'), ...byStage('verifying')];
      await pool(early, 10, async (u) => {
        await driver.requestCode(u, setupDeadline);
      });
      for (const u of early) {
        while (Date.now() < setupDeadline && mail.codesFor(u.email).length === 0) await sleep(300);
        u.prefaultCode = mail.codesFor(u.email).at(-1);
      }
      const missing = early.filter((u) => !u.prefaultCode).length;
      if (missing) throw new Error(`${missing} code mails did not arrive before the fault (system not healthy to begin with)`);
      ctx.log(`${scenario.name}: ${early.length} codes in hand`);
      // Signups accepted just before the fault (their mail is on its way).
      await pool(byStage('signed_up'), 10, async (u) => {
        await driver.requestCode(u, setupDeadline);
      });
    },
    inFlight: (deadline) => byStage('verifying').map((u) => driver.verifyWith(u, u.prefaultCode!, deadline)),
    duringFault(hold, deadline) {
      const during = byStage('during_fault');
      const spread = Math.max(hold, 2_000) / Math.max(1, during.length);
      for (const [i, u] of during.entries()) u.signupPromise = sleep(i * spread).then(() => driver.requestCode(u, deadline));
    },
    async complete(deadline) {
      await pool(users, 8, (u) => driver.complete(u, deadline));
      return users.every((u) => u.verified) ? Math.max(...users.map((u) => u.verifiedAt ?? 0)) : undefined;
    },
    async check() {
      // Postgres, then every account can sign in with its password, then the mail archive.
      await mail.poll(true);
      const db = await accountsWithPrefix(ctx.stack.DATABASE_URL, prefix);
      const ours = new Set(users.map((u) => u.email.toLowerCase()));
      for (const [email, row] of db.rows) {
        if (!ours.has(email)) result.anomalies.push(`unexpected account ${email}`);
        if (row.count > 1) result.duplicates += row.count - 1;
        if (new Set(row.signupRefs).size > 1) result.anomalies.push(`${email}: rows from ${new Set(row.signupRefs).size} signup runs`);
      }
      result.created = [...ours].filter((e) => db.rows.has(e)).length;
      result.lost = opts.n - result.created;
      const signinDeadline = Math.min(opts.hardDeadline, Date.now() + 90_000);
      await pool(users.filter((u) => db.rows.has(u.email.toLowerCase())), 6, async (u) => {
        if (await driver.signinOk(u, signinDeadline, 30_000)) result.signin_ok += 1;
      });
      for (const u of users) {
        const mails = mail.mailsTo(u.email);
        const codes = mails.flatMap((m) => (m.code ? [m.code] : []));
        result.codes_mailed += codes.length;
        result.duplicate_code_mails += codes.length - new Set(codes).size;
        if (u.verified && u.verifiedCode && codes.includes(u.verifiedCode)) result.usable_code += 1;
        if (u.prefaultCode && u.refused.has(u.prefaultCode)) {
          result.prefault_code_refused += 1;
          u.anomalies.push(`pre-fault code refused: ${u.refused.get(u.prefaultCode)}`);
        }
        if (u.trace.some((t) => t.includes('asking for a new code (none arrived)'))) result.needed_resend_for_first_mail += 1;
        result.resends += u.resends;
        result.anomalies.push(...u.anomalies.map((a) => `${u.email}: ${a}`));
      }
      result.verified = users.filter((u) => u.verified).length;
      result.verified_after_ambiguous = users.filter((u) => u.verifiedBy === 'signin_after_ambiguous_verify').length;
      for (const s of ['mail_received', 'verifying', 'signed_up', 'during_fault'] as const) {
        const g = byStage(s);
        result.by_stage[s] = { n: g.length, verified: g.filter((u) => u.verified).length, created: g.filter((u) => db.rows.has(u.email.toLowerCase())).length };
      }
    },
    async fresh(deadline) {
      // A brand-new user signs up, verifies and signs in, within a bound.
      const [fresh] = makeUsers(`chaos-${runId}-fresh-${scenario.name}-`, 1, () => 'signed_up');
      mail.watch([fresh.email]);
      await driver.complete(fresh, deadline);
      const freshSignin = fresh.verified ? await driver.signinOk(fresh, deadline, 30_000) : undefined;
      return fresh.verified && freshSignin ? 'ok' : `failed: ${fresh.trace.slice(-6).join('; ') || 'no time left before the run\'s deadline'}${fresh.anomalies.length ? ` (${fresh.anomalies.join('; ')})` : ''}`;
    },
    close: () => mail.stop(),
  });
  // Users who did not make it or met an anomaly first, then (as examples) those whose verify answer was lost.
  const troubled = [
    ...users.filter((u) => !u.verified || u.anomalies.length),
    ...users.filter((u) => u.verified && !u.anomalies.length && u.verifiedBy === 'signin_after_ambiguous_verify').slice(0, 2),
  ];
  if (troubled.length) result.details = troubled.slice(0, 10).map((u) => ({ email: u.email, stage: u.stage, trace: u.trace, anomalies: u.anomalies }));
  result.ok =
    result.ok &&
    result.created === opts.n &&
    result.verified === opts.n &&
    result.usable_code === opts.n &&
    result.signin_ok === opts.n &&
    result.prefault_code_refused === 0;
  return result;
}

/** The signup scenarios' columns; the account scenarios have their own (chaos/account-harness.ts). */
export const SIGNUP_COLUMNS = ['scenario', 'expected', 'created', 'duplicates', 'lost', 'recovery_s', 'verified', 'signin_ok', 'usable_code', 'processes_ready_s', 'fresh_flow', 'client_errors', 'ok'];

/** A markdown table of results, one row each, in the given columns (any field of the result). */
export function formatTable<R extends FaultResult>(results: R[], cols: readonly string[] = SIGNUP_COLUMNS): string {
  const cell = (r: R, c: string): string => {
    if (c === 'ok') return r.ok ? 'yes' : 'NO';
    if (c === 'fresh_flow') return r.fresh_flow === 'ok' ? 'ok' : 'FAILED';
    if (c === 'processes_ready_s') return r.not_ready_after_fault.length ? `NOT READY: ${r.not_ready_after_fault.length}` : String(r.processes_ready_s ?? '-');
    if (c === 'client_errors') {
      const e = r.client_errors;
      return `503:${e.unavailable_503} 5xx:${e.other_5xx} conn:${e.connection} timeout:${e.timeout}`;
    }
    return String((r as unknown as Record<string, unknown>)[c] ?? '-');
  };
  const rows = results.map((r) => cols.map((c) => cell(r, c)));
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(cols), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
