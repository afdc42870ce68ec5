import { sleep } from '../../testkit/wait';
import { call, type Reply } from './api';

export const short = (r: Reply) => (r.status ? `${r.status}${r.body?.code ? ` ${r.body.code}` : ''}` : `ERR ${r.error}`);

/** Who a chaos client acts for: a short trace for the report, and server behaviour that is wrong whatever the fault. */
export interface Traced {
  trace: string[];
  anomalies: string[];
}

/** A user waiting for mailed codes: which were refused, and when one was last asked for. */
export interface CodeHolder extends Traced {
  lastCodeRequestAt: number;
  /** A new code is needed: the one(s) we have were refused. */
  needNewCode: boolean;
  /** Codes that got a definite answer other than success, with that answer. */
  refused: Map<string, string>;
}

export interface CodeTiming {
  /** Ask for a new code when none arrived this long after the last request. */
  resendAfterMs: number;
  /** The workflow ignores a resend within this long of the previous code. */
  resendCooldownMs: number;
}

/**
 * The HTTP side shared by the chaos drivers (signups, account flows): calls spread over the running
 * APIs, what the clients saw (503s, other 5xx, lost connections, timeouts), per-user traces, and
 * the answers no fault excuses (a 5xx other than 503, an error without `{code, message}`).
 */
export class ChaosClient {
  private rr = 0;
  /** What clients saw while the fault lasted and after: 503s, refused or reset connections, timeouts. */
  readonly clientErrors = { unavailable_503: 0, other_5xx: 0, connection: 0, timeout: 0 };
  constructor(readonly apis: () => string[]) {}

  protected async call(method: string, path: string, body: unknown, timeoutMs: number, cookie?: string): Promise<Reply> {
    const list = this.apis();
    const r = await call(list[this.rr++ % list.length], method, path, body, timeoutMs, cookie);
    if (r.status === 503) this.clientErrors.unavailable_503 += 1;
    else if (r.status >= 500) this.clientErrors.other_5xx += 1;
    else if (r.status === 0 && r.error === 'timeout') this.clientErrors.timeout += 1;
    else if (r.status === 0) this.clientErrors.connection += 1;
    return r;
  }

  protected note(u: Traced, what: string) {
    if (u.trace.length < 60) u.trace.push(`${((Date.now() % 1e6) / 1000).toFixed(1)} ${what}`);
  }

  protected checkAnomaly(u: Traced, what: string, r: Reply) {
    if (r.status >= 500 && r.status !== 503) u.anomalies.push(`${what} answered ${r.status}: ${JSON.stringify(r.body)?.slice(0, 200)}`);
    if (r.status >= 400 && (typeof r.body !== 'object' || typeof r.body?.code !== 'string' || typeof r.body?.message !== 'string')) {
      u.anomalies.push(`${what} answered ${r.status} without {code, message}: ${JSON.stringify(r.body)?.slice(0, 200)}`);
    }
  }

  /**
   * Sends until the answer is definite: a 503, another 5xx or a lost connection is sent again
   * (backing off up to 3 s) until the deadline; `seen.lost` tells whether an answer was lost on the
   * way (then it is open whether the first send took effect). Undefined when no definite answer came in time.
   */
  protected async definite(u: Traced, what: string, send: () => Promise<Reply>, deadline: number, seen?: { lost: boolean }): Promise<Reply | undefined> {
    let delay = 300;
    while (Date.now() < deadline) {
      const r = await send();
      this.note(u, `${what} ${short(r)}`);
      this.checkAnomaly(u, what, r);
      if (r.status > 0 && r.status < 500) return r;
      if (seen) seen.lost = true;
      await sleep(delay);
      delay = Math.min(delay * 2, 3_000);
    }
    return undefined;
  }

  /** The newest mailed code not seen refused; asks again (`askAgain`) when none comes, or all were refused. */
  protected async awaitCode(u: CodeHolder, mailed: () => string[], askAgain: () => Promise<unknown>, timing: CodeTiming, deadline: number): Promise<string | undefined> {
    while (Date.now() < deadline) {
      const codes = mailed().filter((c) => !u.refused.has(c));
      if (codes.length) {
        u.needNewCode = false;
        return codes[codes.length - 1];
      }
      const wait = u.needNewCode ? timing.resendCooldownMs + 2_000 : timing.resendAfterMs;
      if (Date.now() - u.lastCodeRequestAt > wait) {
        this.note(u, u.needNewCode ? 'asking for a new code (refused)' : 'asking for a new code (none arrived)');
        await askAgain();
      }
      await sleep(500);
    }
    return undefined;
  }
}
