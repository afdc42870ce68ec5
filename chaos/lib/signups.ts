import { randomBytes } from 'node:crypto';
import { call, type Reply } from './api';
import type { MailArchive } from '../../testkit/maildev';
import { sleep } from '../../testkit/wait';

/** Where a signup stands when the fault hits. */
export type Stage = 'mail_received' | 'verifying' | 'signed_up' | 'during_fault';

export interface Tracked {
  index: number;
  email: string;
  password: string;
  name: string;
  stage: Stage;
  signupAccepted: boolean;
  /** The signup request in flight (the during-fault group signs up while the fault lasts). */
  signupPromise?: Promise<boolean>;
  lastCodeRequestAt: number;
  /** A new code is needed: the one(s) we have were refused. */
  needNewCode: boolean;
  /** The code this user held when the fault began (its mail had arrived). */
  prefaultCode?: string;
  /** Codes that got a definite answer other than success, with that answer. */
  refused: Map<string, string>;
  verified: boolean;
  verifiedBy?: 'verify' | 'signin_after_ambiguous_verify';
  verifiedCode?: string;
  verifiedAt?: number;
  resends: number;
  /** Short trace of what happened, for the report. */
  trace: string[];
  /** Server behaviour that is wrong whatever the fault (a 500, EMAIL_TAKEN for our own signup, ...). */
  anomalies: string[];
}

export function makeUsers(prefix: string, n: number, stages: (i: number) => Stage): Tracked[] {
  return Array.from({ length: n }, (_, i) => ({
    index: i,
    email: `${prefix}${String(i).padStart(2, '0')}@chaos.example.com`,
    password: `chaos ${randomBytes(9).toString('base64url')} pass`,
    name: `Chaos Tester ${i}`,
    stage: stages(i),
    signupAccepted: false,
    lastCodeRequestAt: 0,
    needNewCode: false,
    refused: new Map(),
    verified: false,
    resends: 0,
    trace: [],
    anomalies: [],
  }));
}

export interface DriverOptions {
  /** Base URLs of the running APIs (…/api/v1/auth), used in turn. */
  apis: () => string[];
  mail: MailArchive;
  /** Ask for a new code when none arrived this long after the last request. */
  resendAfterMs: number;
  /** The workflow ignores a resend within this long of the previous code. */
  resendCooldownMs: number;
}

const short = (r: Reply) => (r.status ? `${r.status}${r.body?.code ? ` ${r.body.code}` : ''}` : `ERR ${r.error}`);

/** The client side of a signup, as a patient user would behave: retry, read the mail, ask again. */
export class SignupDriver {
  private rr = 0;
  /** What clients saw while the fault lasted and after: 503s, refused or reset connections, timeouts. */
  readonly clientErrors = { unavailable_503: 0, other_5xx: 0, connection: 0, timeout: 0 };
  constructor(readonly opts: DriverOptions) {}

  private async call(method: string, path: string, body: unknown, timeoutMs: number): Promise<Reply> {
    const r = await call(this.api(), method, path, body, timeoutMs);
    if (r.status === 503) this.clientErrors.unavailable_503 += 1;
    else if (r.status >= 500) this.clientErrors.other_5xx += 1;
    else if (r.status === 0 && r.error === 'timeout') this.clientErrors.timeout += 1;
    else if (r.status === 0) this.clientErrors.connection += 1;
    return r;
  }

  private api(): string {
    const list = this.opts.apis();
    return list[this.rr++ % list.length];
  }

  private note(u: Tracked, what: string) {
    if (u.trace.length < 60) u.trace.push(`${((Date.now() % 1e6) / 1000).toFixed(1)} ${what}`);
  }

  private checkAnomaly(u: Tracked, what: string, r: Reply) {
    if (r.status >= 500 && r.status !== 503) u.anomalies.push(`${what} answered ${r.status}: ${JSON.stringify(r.body)?.slice(0, 200)}`);
    if (r.status >= 400 && (typeof r.body !== 'object' || typeof r.body?.code !== 'string' || typeof r.body?.message !== 'string')) {
      u.anomalies.push(`${what} answered ${r.status} without {code, message}: ${JSON.stringify(r.body)?.slice(0, 200)}`);
    }
  }

  /** POST /signup (or /resend) until it is accepted (202); 503 and network errors are retried. */
  async requestCode(u: Tracked, deadline: number, path: '/signup' | '/resend' = '/signup'): Promise<boolean> {
    let delay = 300;
    while (Date.now() < deadline) {
      const r = await this.call('POST', path, { email: u.email }, 10_000);
      this.note(u, `${path} ${short(r)}`);
      this.checkAnomaly(u, path, r);
      if (r.status === 202) {
        u.signupAccepted = true;
        u.lastCodeRequestAt = Date.now();
        if (path === '/resend') u.resends += 1;
        return true;
      }
      if (r.status >= 400 && r.status < 500) {
        u.anomalies.push(`${path} refused: ${short(r)}`);
        return false;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 3_000);
    }
    return false;
  }

  /** The newest mailed code we have not seen refused; asks for a new one when none comes. */
  async nextCode(u: Tracked, deadline: number): Promise<string | undefined> {
    while (Date.now() < deadline) {
      const codes = this.opts.mail.codesFor(u.email).filter((c) => !u.refused.has(c));
      if (codes.length) {
        u.needNewCode = false;
        return codes[codes.length - 1];
      }
      const wait = u.needNewCode ? this.opts.resendCooldownMs + 2_000 : this.opts.resendAfterMs;
      if (Date.now() - u.lastCodeRequestAt > wait) {
        this.note(u, u.needNewCode ? 'asking for a new code (refused)' : 'asking for a new code (none arrived)');
        await this.requestCode(u, deadline, '/resend');
      }
      await sleep(500);
    }
    return undefined;
  }

  /** 200: the account exists with this password; false: 401; undefined: no definite answer in time. */
  async signinOk(u: Tracked, deadline: number, budgetMs = 20_000): Promise<boolean | undefined> {
    const until = Math.min(deadline, Date.now() + budgetMs);
    while (Date.now() < until) {
      const r = await this.call('POST', '/signin', { email: u.email, password: u.password }, 10_000);
      this.note(u, `/signin ${short(r)}`);
      this.checkAnomaly(u, '/signin', r);
      if (r.status === 200) return true;
      if (r.status === 401) return false;
      await sleep(1_000);
    }
    return undefined;
  }

  /**
   * POST /verify with one code. A 503 or a lost connection leaves it open whether the account was
   * made: the same code is sent again, and a refusal after that is settled by signing in.
   * Returns true once the account is known to exist.
   */
  async verifyWith(u: Tracked, code: string, deadline: number): Promise<boolean> {
    let ambiguous = false;
    while (Date.now() < deadline && !u.verified) {
      const r = await this.call('POST', '/verify', { email: u.email, otp: code, password: u.password, name: u.name }, 25_000);
      this.note(u, `/verify ${code} ${short(r)}`);
      this.checkAnomaly(u, '/verify', r);
      if (r.status === 201) {
        this.markVerified(u, 'verify', code);
        return true;
      }
      if (r.status === 0 || r.status >= 500) {
        ambiguous = true;
        if (await this.signinOk(u, deadline, 5_000)) {
          this.markVerified(u, 'signin_after_ambiguous_verify', code);
          return true;
        }
        await sleep(1_000);
        continue;
      }
      const errCode: string = r.body?.code ?? String(r.status);
      if (ambiguous || errCode === 'EMAIL_TAKEN') {
        const ok = await this.signinOk(u, deadline);
        if (ok) {
          this.markVerified(u, 'signin_after_ambiguous_verify', code);
          if (!ambiguous) u.anomalies.push('EMAIL_TAKEN for a signup that had not verified yet');
          return true;
        }
      }
      if (errCode === 'TOO_MANY_ATTEMPTS') u.anomalies.push(`verification locked (${JSON.stringify(u.trace.slice(-6))})`);
      u.refused.set(code, errCode);
      u.needNewCode = true;
      return false;
    }
    return u.verified;
  }

  private markVerified(u: Tracked, by: Tracked['verifiedBy'], code: string) {
    u.verified = true;
    u.verifiedBy = by;
    u.verifiedCode = code;
    u.verifiedAt = Date.now();
  }

  /** Drives one signup to a verified account, or until the deadline. */
  async complete(u: Tracked, deadline: number): Promise<void> {
    if (u.signupPromise) await u.signupPromise;
    while (!u.verified && Date.now() < deadline) {
      if (!u.signupAccepted) {
        await this.requestCode(u, deadline, '/signup');
        continue;
      }
      const code = await this.nextCode(u, deadline);
      if (!code) return;
      await this.verifyWith(u, code, deadline);
      if (u.anomalies.some((a) => a.startsWith('verification locked'))) return;
    }
  }
}
