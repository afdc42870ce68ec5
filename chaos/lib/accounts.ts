import { randomBytes } from 'node:crypto';
import type { Reply } from './api';
import { ChaosClient, short, type CodeHolder, type CodeTiming } from './client';
import type { MailArchive } from '../../testkit/maildev';

/** Subjects of the account flows' mails (activities/email.activities.ts). */
export const SUBJECT = {
  resetCode: 'Your CFD Broker password reset code',
  passwordChanged: 'Your CFD Broker password was changed',
  emailCode: 'Confirm your new CFD Broker email',
  emailChanged: 'Your CFD Broker email address was changed',
} as const;

/**
 * Where an account's flow stands when the fault hits: a password reset asked for (its mail on the
 * way), its code read, its reset call in flight; an email change asked for, its code read, its
 * verify in flight, or applied before the fault with the undo call in flight.
 */
export const ACCOUNT_STAGES = ['forgot_requested', 'reset_code_in_hand', 'reset_in_flight', 'change_requested', 'change_code_in_hand', 'verify_in_flight', 'undo_in_flight'] as const;
export type AccountStage = (typeof ACCOUNT_STAGES)[number];
export const isReset = (s: AccountStage) => s.startsWith('forgot') || s.startsWith('reset');

export interface Account extends CodeHolder {
  index: number;
  stage: AccountStage;
  userId: string;
  /** The address the account had before its flow. */
  email: string;
  password: string;
  /** The reset's new password, or the email change's new address. */
  newPassword: string;
  newEmail: string;
  /** Cookies of the device that runs the flow (auth_token, auth_device). */
  jar: Map<string, string>;
  /** The session cookie of another device signed in before the flow: the flow must end it. */
  otherSession: string;
  /** The code held when the fault began. */
  prefaultCode?: string;
  undoToken?: string;
  /** Answers that applied the flow (200): more than one is a double apply. */
  applied: number;
  undone: number;
  /** The flow's answer was lost (503, connection) and a later answer was settled by signing in. */
  settled: boolean;
  /** Sign-ins made to settle a lost answer: their sessions are alive at the end. */
  settleSessions: number;
  done: boolean;
  doneAt?: number;
}

export function makeAccounts(n: number, stageOf: (i: number) => AccountStage, newEmail: (i: number) => string): Account[] {
  return Array.from({ length: n }, (_, i) => ({
    index: i,
    stage: stageOf(i),
    userId: '',
    email: '',
    password: '',
    newPassword: `chaos reset ${randomBytes(9).toString('base64url')}`,
    newEmail: newEmail(i),
    jar: new Map(),
    otherSession: '',
    lastCodeRequestAt: 0,
    needNewCode: false,
    refused: new Map(),
    applied: 0,
    undone: 0,
    settled: false,
    settleSessions: 0,
    done: false,
    trace: [],
    anomalies: [],
  }));
}

export const cookieHeader = (jar: Map<string, string>) => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
function keepCookies(jar: Map<string, string>, r: Reply) {
  for (const pair of r.setCookies ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    if (pair.slice(at + 1)) jar.set(pair.slice(0, at), pair.slice(at + 1));
    else jar.delete(pair.slice(0, at));
  }
}

/** The client side of password resets and email changes, as a patient user would behave. */
export class AccountDriver extends ChaosClient {
  constructor(readonly opts: CodeTiming & { apis: () => string[]; mail: MailArchive }) {
    super(opts.apis);
  }

  /** Signs in with a fresh jar (or `jar`): the answer's status, 0 when none was definite in time. */
  async signin(a: Account, email: string, password: string, deadline: number, jar = new Map<string, string>()): Promise<{ status: number; jar: Map<string, string>; userId?: string }> {
    const r = await this.definite(a, '/signin', () => this.call('POST', '/signin', { email, password }, 10_000, cookieHeader(jar)), deadline);
    if (r) keepCookies(jar, r);
    return { status: r?.status ?? 0, jar, userId: r?.body?.user?.id };
  }

  /** A copy of the account's device cookie alone: a sign-in with it is a returning device (no new-sign-in notice). */
  device(a: Account): Map<string, string> {
    return new Map([...a.jar].filter(([k]) => k.endsWith('auth_device')));
  }

  /** Status of GET path with a session cookie (0: no definite answer), and its body. */
  async get(a: Account, path: string, cookie: string, deadline: number): Promise<{ status: number; body: any }> {
    const r = await this.definite(a, path, () => this.call('GET', path, undefined, 10_000, cookie), deadline);
    return { status: r?.status ?? 0, body: r?.body };
  }

  /** Sessions listed for the account (signed in now with its final address and password); undefined when unknown. */
  async sessionsNow(a: Account, email: string, password: string, deadline: number): Promise<number | undefined> {
    const s = await this.signin(a, email, password, deadline, this.device(a));
    if (s.status !== 200) return undefined;
    const r = await this.get(a, '/sessions', cookieHeader(s.jar), deadline);
    return r.status === 200 ? (r.body?.sessions?.length as number) : undefined;
  }

  /** The account's two devices: the one that runs the flow, and another whose session the flow must end. */
  async signInDevices(a: Account, deadline: number): Promise<void> {
    const main = await this.signin(a, a.email, a.password, deadline, a.jar);
    const other = await this.signin(a, a.email, a.password, deadline);
    if (main.status !== 200 || other.status !== 200 || !main.userId) throw new Error(`account ${a.index} could not sign in (${main.status}, ${other.status})`);
    a.userId = main.userId;
    a.otherSession = cookieHeader(new Map([...other.jar].filter(([k]) => k.endsWith('auth_token'))));
  }

  /** POST /password/forgot (or /email/change) until accepted. */
  async ask(a: Account, deadline: number): Promise<boolean> {
    const [path, body, cookie] = isReset(a.stage)
      ? ['/password/forgot', { email: a.email }, undefined]
      : ['/email/change', { newEmail: a.newEmail, password: a.password }, cookieHeader(a.jar)];
    const r = await this.definite(a, path, () => this.call('POST', path, body, 10_000, cookie), deadline);
    if (r?.status === 202) {
      a.lastCodeRequestAt = Date.now();
      return true;
    }
    if (r) a.anomalies.push(`${path} refused: ${short(r)}`);
    return false;
  }

  /** The newest code of the flow not seen refused; asks again when none comes. */
  nextCode(a: Account, deadline: number): Promise<string | undefined> {
    const codes = () => (isReset(a.stage) ? this.opts.mail.codesFor(a.email, SUBJECT.resetCode) : this.opts.mail.codesFor(a.newEmail, SUBJECT.emailCode));
    return this.awaitCode(a, codes, () => this.ask(a, deadline), this.opts, deadline);
  }

  /**
   * The reset (or the email change's verify) with one code. A 503 or a lost connection leaves open
   * whether it was applied: the same code is sent again, and a refusal after that is settled by
   * signing in with the new password (or at the new address). True once it is known applied.
   */
  async applyWith(a: Account, code: string, deadline: number): Promise<boolean> {
    const reset = isReset(a.stage);
    const [path, body, cookie] = reset
      ? ['/password/reset', { email: a.email, code, password: a.newPassword }, undefined]
      : ['/email/verify', { code }, cookieHeader(a.jar)];
    const seen = { lost: false };
    const r = await this.definite(a, `${path} ${code}`, () => this.call('POST', path, body, 25_000, cookie), deadline, seen);
    if (!r) return false;
    if (r.status === 200) {
      a.applied += 1;
      keepCookies(a.jar, r);
      this.finish(a);
      return true;
    }
    const errCode: string = r.body?.code ?? String(r.status);
    if (errCode === 'EMAIL_TAKEN') a.anomalies.push('EMAIL_TAKEN for an address only this account asked for');
    if (seen.lost || errCode === 'PASSWORD_ALREADY_RESET') {
      const s = reset ? await this.signin(a, a.email, a.newPassword, deadline) : await this.signin(a, a.newEmail, a.password, deadline);
      if (s.status === 200) {
        a.settled = true;
        a.settleSessions += 1;
        if (!seen.lost) a.anomalies.push(`${errCode} for a first answer`);
        this.finish(a);
        return true;
      }
    }
    if (errCode === 'TOO_MANY_ATTEMPTS') a.anomalies.push(`code locked (${JSON.stringify(a.trace.slice(-6))})`);
    a.refused.set(code, errCode);
    a.needNewCode = true;
    return false;
  }

  private finish(a: Account) {
    a.done = true;
    a.doneAt = Date.now();
  }

  /** The undo link of an applied email change, sent until answered; a refusal after a lost answer is settled by signing in at the old address. */
  async undo(a: Account, deadline: number): Promise<boolean> {
    const seen = { lost: false };
    const r = await this.definite(a, '/email/undo', () => this.call('POST', '/email/undo', { token: a.undoToken }, 25_000), deadline, seen);
    if (!r) return false;
    if (r.status === 200) {
      a.undone += 1;
      this.finish(a);
      return true;
    }
    if (seen.lost && (await this.signin(a, a.email, a.password, deadline)).status === 200) {
      a.settled = true;
      a.settleSessions += 1;
      this.finish(a);
      return true;
    }
    a.anomalies.push(`undo link refused: ${short(r)}`);
    return false;
  }

  /** Drives one account's flow to its end, or until the deadline. */
  async complete(a: Account, deadline: number): Promise<void> {
    if (a.stage === 'undo_in_flight') {
      if (!a.done) await this.undo(a, deadline);
      return;
    }
    while (!a.done && Date.now() < deadline) {
      const code = await this.nextCode(a, deadline);
      if (!code) return;
      await this.applyWith(a, code, deadline);
      if (a.anomalies.some((x) => x.startsWith('code locked'))) return;
    }
  }
}

