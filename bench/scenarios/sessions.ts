import type { Bench } from '../context';
import { runLoad } from '../lib/load';
import { json, keepSession, settle, type Sut } from '../systems';

export async function scenarioSignin(ctx: Bench, sut: Sut, c: number): Promise<void> {
  const users = sut.users;
  if (users.length === 0) return void ctx.log(`signin ${sut.system}: no users, skipped`);
  const r = await runLoad({
    system: sut.system, name: 'signin', url: sut.url, method: 'POST', path: sut.signin.path, headers: sut.headers,
    concurrency: c, ...(c === 1 ? { durationS: ctx.plan.signinC1S } : { amount: Math.max(c, ctx.plan.signinCN), maxS: ctx.plan.boxS }), timeoutS: 60,
    expect: sut.signin.expect,
    build: (i) => {
      const u = users[i % users.length];
      return { body: json({ email: u.email, password: u.password }), ...(u.device ? { headers: { cookie: u.device } } : {}) };
    },
    onResponse: (_s, _b, headers) => {
      return keepSession(sut, headers);
    },
  });
  ctx.results.push(r);
  await settle(sut);
  ctx.log(`signin ${sut.system} c=${c}: p50 ${r.p50_ms} ms, ${r.rps} req/s, ${r.errors} errors`);
}

export async function scenarioMe(ctx: Bench, sut: Sut, c: number): Promise<void> {
  const sessions = [...sut.sessions];
  if (sessions.length === 0) return void ctx.log(`me ${sut.system}: no sessions, skipped`);
  const r = await runLoad({
    system: sut.system, name: 'me', url: sut.url, method: 'GET', path: sut.me.path, headers: sut.headers,
    concurrency: c, durationS: c === 1 ? ctx.plan.c1S : ctx.plan.cNS, expect: sut.me.expect,
    build: (i) => ({ headers: { cookie: sessions[i % sessions.length] } }),
    ...(sut.me.ok ? { onResponse: (_s: number, body: string) => sut.me.ok!(body) } : {}),
  });
  ctx.results.push(r);
  ctx.log(`me ${sut.system} c=${c}: p50 ${r.p50_ms} ms, ${r.rps} req/s, ${r.errors} errors`);
}

export async function scenarioLogout(ctx: Bench, sut: Sut, c: number): Promise<void> {
  const want = c === 1 ? ctx.plan.logout[0] : ctx.plan.logout[1];
  const amount = Math.min(want, sut.sessions.length);
  if (amount < c) return void ctx.log(`logout ${sut.system} c=${c}: only ${sut.sessions.length} sessions left, skipped`);
  const slice = sut.sessions.splice(0, amount);
  const r = await runLoad({
    system: sut.system, name: 'logout', url: sut.url, method: 'POST', path: sut.logout.path, headers: sut.headers,
    concurrency: c, amount, expect: sut.logout.expect,
    build: (i) => ({ body: '{}', headers: { cookie: slice[i % slice.length] } }),
  });
  ctx.results.push(r);
  ctx.log(`logout ${sut.system} c=${c}: p50 ${r.p50_ms} ms, ${r.rps} req/s, ${r.errors} errors (${amount} sessions)`);
}

