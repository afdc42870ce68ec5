import { Secret, TOTP } from 'otpauth';

/** What an authenticator app would show for `secret`, `steps` steps away from now (tests only). */
export function totpCode(secret: string, steps = 0, now = Date.now()): string {
  return new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({ timestamp: now + steps * 30_000 });
}

const stepOf = (ms: number) => Math.floor(ms / 30_000);

/**
 * An authenticator that never shows a code the server already took: each call answers the code of a
 * step after the last one it gave (now or the next step, both inside the ±1 window), and waits for
 * the clock when both are used up. Tests that need many codes of one secret use it instead of
 * `totpCode`, so they never trip the replay rule by accident.
 */
export class Authenticator {
  private last = -Infinity;
  constructor(readonly secret: string) {}

  async code(): Promise<string> {
    for (;;) {
      const now = Date.now();
      const step = Math.max(stepOf(now), this.last + 1);
      if (step <= stepOf(now) + 1) {
        this.last = step;
        return totpCode(this.secret, step - stepOf(now), now);
      }
      await new Promise((r) => setTimeout(r, 30_000 - (now % 30_000) + 50));
    }
  }
}
