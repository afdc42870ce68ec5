import { CodeWatcher } from '../../testkit/maildev';
import type { Bench } from '../context';
import { runLoad, summarise } from '../lib/load';
import { cookieFromFetch, deviceCookie, json, passwordFor, pooled, post, keepSession, settle, type Sut } from '../systems';

export interface PendingSignup {
  email: string;
  otp: string;
}

/** Signs up `n` addresses (through the same API) and collects their codes from MailDev. */
export async function preparePending(ctx: Bench, sut: Sut, n: number, purpose: string): Promise<PendingSignup[]> {
  const emails = Array.from({ length: n }, (_, i) => ctx.address(sut, purpose, i));
  let failed = 0;
  let firstError = '';
  await pooled(emails, 10, async (email) => {
    try {
      const r = await post(`${sut.url}${sut.signup.path}`, sut.signup.body(email), sut.headers);
      if (!sut.signup.expect.includes(r.status)) {
        failed += 1;
        firstError ||= `status ${r.status}: ${r.text.slice(0, 200)}`;
      }
    } catch (err) {
      failed += 1;
      firstError ||= (err as Error).message;
    }
  });
  if (failed) ctx.log(`${sut.system}: ${failed} of ${n} pending signups failed; first: ${firstError}`);
  const codes = await ctx.mail.waitCodes(ctx.needle(sut, purpose), emails, Math.max(5, Math.min(90, ctx.remainingS() - 30)) * 1000);
  if (failed || codes.size < n) ctx.log(`warning: ${sut.system}: ${failed} signups failed, ${codes.size}/${n} codes arrived`);
  return emails.filter((e) => codes.has(e)).map((e) => ({ email: e, otp: codes.get(e)! }));
}

export function verifyBody(p: PendingSignup): string {
  return json({ email: p.email, otp: p.otp, password: passwordFor(p.email), name: 'Bench User' });
}

export async function scenarioVerify(ctx: Bench, sut: Sut, c: number, pool: PendingSignup[]): Promise<void> {
  const amount = Math.min(pool.length, c === 1 ? ctx.plan.verify[0] : ctx.plan.verify[1]);
  if (amount < c) {
    ctx.log(`verify ${sut.system} c=${c}: only ${pool.length} pending signups, skipped`);
    return;
  }
  const slice = pool.splice(0, amount);
  const r = await runLoad({
    system: sut.system, name: 'verify', url: sut.url, method: 'POST', path: sut.verify.path, headers: sut.headers,
    concurrency: c, amount, maxS: ctx.plan.boxS, timeoutS: 60, expect: sut.verify.expect,
    build: (i, ctx) => {
      const p = slice[i % slice.length];
      ctx.current = p;
      return { body: verifyBody(p) };
    },
    onResponse: (_s, _b, headers, ctx) => {
      const p = ctx.current as PendingSignup;
      sut.users.push({ email: p.email, password: passwordFor(p.email), device: deviceCookie(headers) });
      return keepSession(sut, headers);
    },
  });
  ctx.results.push(r);
  await settle(sut);
  ctx.log(`verify ${sut.system} c=${c}: p50 ${r.p50_ms} ms, ${r.rps} req/s, ${r.errors} errors`);
}

/** signup → code read from MailDev → verify, timed end to end by hand (MailDev polled every 50 ms). */
export async function scenarioSignupToVerified(ctx: Bench, sut: Sut, c: number, n: number): Promise<void> {
  const purpose = `sv${c}`;
  const watcher = new CodeWatcher(ctx.mail, ctx.needle(sut, purpose), 50);
  watcher.start();
  const latencies: number[] = [];
  const codeWaits: number[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  const t0 = Date.now();
  try {
    const stopAt = Date.now() + Math.max(5, Math.min(60, ctx.remainingS() - 5)) * 1000;
    await pooled(Array.from({ length: n }, (_, i) => i), c, async (i) => {
      if (Date.now() >= stopAt) return;
      const email = ctx.address(sut, purpose, i);
      const start = performance.now();
      try {
        const s = await post(`${sut.url}${sut.signup.path}`, sut.signup.body(email), sut.headers);
        statuses[s.status] = (statuses[s.status] ?? 0) + 1;
        if (!sut.signup.expect.includes(s.status)) throw new Error(`signup ${s.status}`);
        const afterSignup = performance.now();
        // Bounded per flow: a mailbox that never gets the code (SMTP or MailDev down) must not eat the run.
        const otp = await watcher.wait(email, Math.max(1000, Math.min((ctx.quick ? 8 : 30) * 1000, stopAt - Date.now())));
        codeWaits.push(performance.now() - afterSignup);
        const v = await post(`${sut.url}${sut.verify.path}`, verifyBody({ email, otp }), sut.headers);
        statuses[v.status] = (statuses[v.status] ?? 0) + 1;
        if (!sut.verify.expect.includes(v.status)) throw new Error(`verify ${v.status}`);
        latencies.push(performance.now() - start);
        sut.users.push({ email, password: passwordFor(email), device: deviceCookie({ 'set-cookie': v.headers.getSetCookie() }) });
        const cookie = cookieFromFetch(v.headers);
        if (cookie) sut.sessions.push(cookie);
      } catch {
        errors += 1;
      }
    });
  } finally {
    await watcher.stop();
  }
  const sortedWaits = [...codeWaits].sort((a, b) => a - b);
  const r = summarise({ system: sut.system, name: 'signup_to_verified', concurrency: c, tool: 'flow' }, latencies, {
    ok: latencies.length, errors, timeouts: 0, statuses, durationS: (Date.now() - t0) / 1000,
    note: `${latencies.length + errors} of ${n} flows run; code wait p50 ${sortedWaits[Math.floor(sortedWaits.length / 2)]?.toFixed(0) ?? '–'} ms (MailDev polled every 50 ms)`,
  });
  ctx.results.push(r);
  ctx.log(`signup_to_verified ${sut.system} c=${c}: p50 ${r.p50_ms} ms, ${r.errors} errors (${r.note})`);
}

