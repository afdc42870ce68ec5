import { randomBytes } from 'node:crypto';
import { ChaosClient, short, type CodeHolder } from './client';
import type { MailArchive } from '../../testkit/maildev';
import { sleep } from '../../testkit/wait';

/** Where a signup stands when the fault hits. */
export type Stage = 'mail_received' | 'verifying' | 'signed_up' | 'during_fault';

export interface Tracked extends CodeHolder {
  index: number;
  email: string;
  password: string;
  name: string;
  stage: Stage;
  signupAccepted: boolean;
  /** The signup request in flight (the during-fault group signs up while the fault lasts). */
  signupPromise?: Promise<boolean>;
  /** The code this user held when the fault began (its mail had arrived). */
  prefaultCode?: string;
  verified: boolean;
  verifiedBy?: 'verify' | 'signin_after_ambiguous_verify';
  verifiedCode?: string;
  verifiedAt?: number;
  resends: number;
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

/** The client side of a signup, as a patient user would behave: retry, read the mail, ask again. */
export class SignupDriver extends ChaosClient {
  constructor(readonly opts: DriverOptions) {
    super(opts.apis);
  }

  /** POST /signup (or /resend) until it is accepted (202); 503 and network errors are retried. */
  async requestCode(u: Tracked, deadline: number, path: '/signup' | '/resend' = '/signup'): Promise<boolean> {
    const r = await this.definite(u, path, () => this.call('POST', path, { email: u.email }, 10_000), deadline);
    if (r?.status === 202) {
      u.signupAccepted = true;
      u.lastCodeRequestAt = Date.now();
      if (path === '/resend') u.resends += 1;
      return true;
    }
    if (r) u.anomalies.push(`${path} refused: ${short(r)}`);
    return false;
  }

  /** The newest mailed code we have not seen refused; asks for a new one when none comes. */
  nextCode(u: Tracked, deadline: number): Promise<string | undefined> {
    return this.awaitCode(u, () => this.opts.mail.codesFor(u.email), () => this.requestCode(u, deadline, '/resend'), this.opts, deadline);
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
