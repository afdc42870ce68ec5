import { randomBytes } from 'node:crypto';
import { MailArchive } from '../testkit/maildev';
import { eventually, sleep } from '../testkit/wait';
import { emptyFaultResult, runFaultScenario, runScenario, type FaultResult, type RunOptions } from './harness';
import { ACCOUNT_STAGES, AccountDriver, isReset, makeAccounts, SUBJECT, type Account, type AccountStage } from './lib/accounts';
import { accountsWithPrefix, usersById } from './lib/db';
import { makeUsers, SignupDriver } from './lib/signups';
import { pool } from './lib/util';
import type { Scenario, ScenarioCtx } from './scenarios';
import { CHAOS_SETTINGS } from './system';

export interface AccountResult extends FaultResult {
  resets: number;
  email_changes: number;
  undos: number;
  /** Flows whose change is in Postgres and works over HTTP (new password or address signs in, the previous one does not). */
  applied: number;
  /** Flows whose change was applied twice (moved, or undone, more than once). */
  double_applied: number;
  /** Accounts whose final password and address sign in and whose previous ones do not. */
  signin_ok: number;
  /** Accounts whose sessions are exactly the expected ones: the flow's (one at most), those of settling sign-ins, none from before. */
  sessions_ok: number;
  /** Accounts whose notice (password changed, email changed) was mailed (at least once: mail is at-least-once). */
  notices_ok: number;
  /** Second (and later) copies of a notice: a kill between SMTP's answer and the send-once mark. Reported, not a failure. */
  duplicate_notices: number;
  /** Flows whose answer was lost (503, connection) and that were settled by signing in. */
  settled_after_ambiguous: number;
  /** Flows whose pre-fault code was refused after the fault (must be 0). */
  prefault_code_refused: number;
  duplicate_code_mails: number;
  by_stage: Record<string, { n: number; done: number; applied: number }>;
  details?: Array<{ index: number; stage: AccountStage; trace: string[]; anomalies: string[] }>;
}

export const ACCOUNT_COLUMNS = ['scenario', 'expected', 'applied', 'double_applied', 'duplicates', 'lost', 'recovery_s', 'signin_ok', 'sessions_ok', 'notices_ok', 'duplicate_notices', 'processes_ready_s', 'fresh_flow', 'client_errors', 'ok'];

/** Accounts spread over the seven stages, in order. */
export const accountStageOf = (i: number, n: number): AccountStage => ACCOUNT_STAGES[Math.floor((i * ACCOUNT_STAGES.length) / n)];

/** The window the in-flight calls are spread over: the fault's seeded offset (0-2 s) falls in it. */
const IN_FLIGHT_SPREAD_MS = 2_000;

const needsCode = (s: AccountStage) => s !== 'forgot_requested' && s !== 'change_requested';

/**
 * One account-flow scenario: N accounts made on the real stack (signup, mailed code, verify) and
 * signed in on two devices; their password resets and email changes brought to their stages; the
 * fault among the requests in flight; every flow completed as a patient user would; then Postgres,
 * HTTP (sign-ins, sessions) and the mail archive checked.
 */
export async function runAccountScenario(ctx: ScenarioCtx, scenario: Scenario, opts: RunOptions): Promise<AccountResult> {
  const runId = randomBytes(3).toString('hex');
  const prefix = `chaos-${runId}-${scenario.name}-`;
  const timing = { resendAfterMs: ctx.quick ? 90_000 : 180_000, resendCooldownMs: Number(CHAOS_SETTINGS.RESEND_COOLDOWN_S) * 1000 };
  const mail = new MailArchive(ctx.stack.MAILDEV_URL);
  const users = makeUsers(prefix, opts.n + 1, () => 'signed_up');
  const accounts = makeAccounts(opts.n, (i) => accountStageOf(i, opts.n), (i) => `${prefix}new-${String(i).padStart(2, '0')}@chaos.example.com`);
  mail.watch([...users.map((u) => u.email), ...accounts.map((a) => a.newEmail)]);
  mail.start(700);
  const signups = new SignupDriver({ apis: () => ctx.sys.apiBases(), mail, ...timing });
  const driver = new AccountDriver({ apis: () => ctx.sys.apiBases(), mail, ...timing });
  const result: AccountResult = {
    ...emptyFaultResult(scenario.name, scenario.fault, opts.n, driver.clientErrors),
    resets: accounts.filter((a) => isReset(a.stage)).length,
    email_changes: accounts.filter((a) => !isReset(a.stage)).length,
    undos: accounts.filter((a) => a.stage === 'undo_in_flight').length,
    applied: 0,
    double_applied: 0,
    signin_ok: 0,
    sessions_ok: 0,
    notices_ok: 0,
    duplicate_notices: 0,
    settled_after_ambiguous: 0,
    prefault_code_refused: 0,
    duplicate_code_mails: 0,
    by_stage: {},
  };
  const preSession = new Map<Account, string>();
  const appliedOk = new Set<Account>();

  await runFaultScenario(ctx, scenario, { ...opts, setupMs: opts.setupMs ?? 240_000 }, result, {
    async prepare(deadline) {
      await pool(users, 8, (u) => signups.complete(u, deadline));
      if (!users.every((u) => u.verified)) throw new Error(`${users.filter((u) => !u.verified).length} accounts could not be made before the fault (system not healthy to begin with)`);
      for (const [i, a] of accounts.entries()) Object.assign(a, { email: users[i].email.toLowerCase(), password: users[i].password });
      await pool(accounts, 8, async (a) => {
        await driver.signInDevices(a, deadline);
        preSession.set(a, [...a.jar].filter(([k]) => k.endsWith('auth_token')).map(([k, v]) => `${k}=${v}`).join(''));
        if (!(await driver.ask(a, deadline))) throw new Error(`account ${a.index}: its flow could not be started`);
      });
      const holders = accounts.filter((a) => needsCode(a.stage));
      for (const a of holders) {
        const codes = () => (isReset(a.stage) ? mail.codesFor(a.email, SUBJECT.resetCode) : mail.codesFor(a.newEmail, SUBJECT.emailCode));
        while (Date.now() < deadline && codes().length === 0) await sleep(300);
        a.prefaultCode = codes().at(-1);
      }
      const missing = holders.filter((a) => !a.prefaultCode).length;
      if (missing) throw new Error(`${missing} code mails did not arrive before the fault (system not healthy to begin with)`);
      // Email changes applied before the fault: the undo link from the notice is in hand.
      await pool(accounts.filter((a) => a.stage === 'undo_in_flight'), 8, async (a) => {
        if (!(await driver.applyWith(a, a.prefaultCode!, deadline))) throw new Error(`account ${a.index}: the email change before the fault failed`);
        a.undoToken = await eventually(async () => mail.mailsTo(a.email).find((m) => m.subject === SUBJECT.emailChanged)?.token, Math.max(0, deadline - Date.now()), 'the undo link');
        Object.assign(a, { done: false, doneAt: undefined, settled: false, settleSessions: 0 });
      });
      ctx.log(`${scenario.name}: ${opts.n} accounts at their stages (${holders.length} codes in hand)`);
    },
    // Spread over the 2 s the fault's seeded moment falls in: some answered before it, some cut by it, some sent into it.
    inFlight(deadline) {
      const calls = accounts.filter((a) => a.stage === 'undo_in_flight' || a.stage === 'reset_in_flight' || a.stage === 'verify_in_flight');
      return calls.map((a, i) => sleep((i * IN_FLIGHT_SPREAD_MS) / calls.length).then(() => (a.stage === 'undo_in_flight' ? driver.undo(a, deadline) : driver.applyWith(a, a.prefaultCode!, deadline))));
    },
    async complete(deadline) {
      await pool(accounts, 8, (a) => driver.complete(a, deadline));
      return accounts.every((a) => a.done) ? Math.max(...accounts.map((a) => a.doneAt ?? 0)) : undefined;
    },
    async check(deadline) {
      const ids = accounts.map((a) => a.userId);
      const rows = await usersById(ctx.stack.DATABASE_URL, ids);
      const byEmail = await accountsWithPrefix(ctx.stack.DATABASE_URL, prefix);
      // Every account is one row; nobody else has an address of this run.
      result.duplicates = byEmail.total - users.length;
      await pool(accounts, 6, async (a) => {
        const reset = isReset(a.stage);
        const undone = a.stage === 'undo_in_flight';
        const [email, password] = reset ? [a.email, a.newPassword] : undone ? [a.email, a.password] : [a.newEmail, a.password];
        const [oldEmail, oldPassword] = reset ? [a.email, a.password] : undone ? [a.newEmail, a.password] : [a.email, a.password];
        const row = rows.get(a.userId);
        if (!row || row.closed) a.anomalies.push(`row ${row ? 'closed' : 'gone'}`);
        else if (row.email !== email) a.anomalies.push(`row has the ${row.email === oldEmail ? 'previous' : 'wrong'} address`);
        if (!reset && byEmail.rows.has(oldEmail)) a.anomalies.push('the address the account left is still taken');

        // Sessions first (the count's own sign-in is one), then the old sessions, then both sign-ins.
        const sessions = await driver.sessionsNow(a, email, password, deadline);
        const expected = 1 + a.settleSessions + (undone ? 0 : reset ? (a.applied > 0 ? 1 : 0) : 1);
        const other = await driver.get(a, '/me', a.otherSession, deadline);
        const before = await driver.get(a, '/me', preSession.get(a)!, deadline);
        // The device that verified an email change keeps a session only when its answer was lost (then the old one stays).
        const beforeShouldLive = !reset && !undone && a.settled;
        const sessionsRight = sessions === expected && other.status === 401 && before.status === (beforeShouldLive ? 200 : 401);
        if (sessionsRight) result.sessions_ok += 1;
        else a.anomalies.push(`sessions: ${sessions} listed (expected ${expected}), other device ${other.status}, the flow's device before it ${before.status}`);
        const nowOk = (await driver.signin(a, email, password, deadline, driver.device(a))).status === 200;
        const oldRefused = (await driver.signin(a, oldEmail, oldPassword, deadline, driver.device(a))).status === 401;
        if (nowOk && oldRefused) result.signin_ok += 1;
        else a.anomalies.push(`sign-in with the final credentials ${nowOk ? 'ok' : 'FAILED'}, with the previous ones ${oldRefused ? 'refused' : 'ACCEPTED'}`);
        if (a.done && row?.email === email && nowOk && oldRefused) appliedOk.add(a);
      });

      // Every applied flow mails one notice to the account's address: wait for them, then for any second copy.
      const notice = (a: Account) => (isReset(a.stage) ? SUBJECT.passwordChanged : SUBJECT.emailChanged);
      const notices = (a: Account) => mail.mailsTo(a.email).filter((m) => m.subject === notice(a)).length;
      await eventually(async () => {
        await mail.poll(true);
        return accounts.every((a) => !appliedOk.has(a) || notices(a) > 0) ? true : undefined;
      }, Math.max(1_000, Math.min(60_000, deadline - Date.now())), 'the notices').catch(() => undefined);
      await sleep(3_000);
      await mail.poll(true);
      for (const a of accounts) {
        const n = notices(a);
        // Mail is at least once: a worker killed after SMTP took a notice but before its send-once
        // mark re-sends it. A second copy is counted, not a failure; a missing one is.
        if (n >= 1) result.notices_ok += 1;
        else a.anomalies.push(`no "${notice(a)}" mail`);
        if (n > 1) result.duplicate_notices += n - 1;
        if (a.applied > 1 || a.undone > 1) result.double_applied += 1;
        const codeSubject = isReset(a.stage) ? SUBJECT.resetCode : SUBJECT.emailCode;
        const codes = mail.codesFor(isReset(a.stage) ? a.email : a.newEmail, codeSubject);
        result.duplicate_code_mails += codes.length - new Set(codes).size;
        if (a.prefaultCode && a.refused.has(a.prefaultCode)) {
          result.prefault_code_refused += 1;
          a.anomalies.push(`pre-fault code refused: ${a.refused.get(a.prefaultCode)}`);
        }
        if (a.settled) result.settled_after_ambiguous += 1;
        result.anomalies.push(...a.anomalies.map((x) => `account ${a.index} (${a.stage}): ${x}`));
      }
      result.applied = appliedOk.size;
      result.lost = opts.n - result.applied;
      for (const s of ACCOUNT_STAGES) {
        const g = accounts.filter((a) => a.stage === s);
        result.by_stage[s] = { n: g.length, done: g.filter((a) => a.done).length, applied: g.filter((a) => appliedOk.has(a)).length };
      }
    },
    async fresh(deadline) {
      // A brand-new password reset after the fault, on the spare account.
      const [f] = makeAccounts(1, () => 'reset_code_in_hand', () => '');
      Object.assign(f, { email: users[opts.n].email.toLowerCase(), password: users[opts.n].password });
      if (!(await driver.ask(f, deadline))) return `failed: forgot not accepted (${f.trace.slice(-3).join('; ')})`;
      for (let code = await driver.nextCode(f, deadline); code && !f.done; code = await driver.nextCode(f, deadline)) await driver.applyWith(f, code, deadline);
      const signin = f.done ? (await driver.signin(f, f.email, f.newPassword, deadline)).status : 0;
      return f.done && signin === 200 && f.anomalies.length === 0 ? 'ok' : `failed: ${f.trace.slice(-6).join('; ') || 'no time left'}${f.anomalies.length ? ` (${f.anomalies.join('; ')})` : ''}`;
    },
    close: () => mail.stop(),
  });
  // Accounts that did not make it or met an anomaly first, then (as examples) some whose answer was lost and settled.
  const troubled = [
    ...accounts.filter((a) => !appliedOk.has(a) || a.anomalies.length),
    ...accounts.filter((a) => appliedOk.has(a) && !a.anomalies.length && a.settled).slice(0, 3),
  ];
  if (troubled.length) result.details = troubled.slice(0, 10).map((a) => ({ index: a.index, stage: a.stage, trace: a.trace, anomalies: a.anomalies }));
  result.ok =
    result.ok &&
    result.applied === opts.n &&
    result.double_applied === 0 &&
    result.signin_ok === opts.n &&
    result.sessions_ok === opts.n &&
    result.notices_ok === opts.n &&
    result.prefault_code_refused === 0 &&
    result.client_errors.other_5xx === 0;
  return result;
}

/** Runs a scenario with the users it is about (signups, or account flows). */
export function runAnyScenario(ctx: ScenarioCtx, scenario: Scenario, opts: RunOptions): Promise<FaultResult> {
  return scenario.workload === 'account' ? runAccountScenario(ctx, scenario, opts) : runScenario(ctx, scenario, opts);
}
