import type Redis from 'ioredis';
import { digestsEqual, generateCode, seal, SealContext, codeDigest, type Keys } from '../common/crypto';

/**
 * Redis layout of a pending code:
 *   otp:{signupId}             -> "{seq}:{hmac digest}"  (what verification compares against)
 *   otp-mail:{signupId}:{run}:{seq} -> the code sealed for the mail activity (never the workflow);
 *                                  per run, since a new signup of the same email reuses the workflow id
 *   otp-consumed:{signupId}    -> "{update id}|{seq}:{hmac digest}": who consumed the last code, and which
 * All expire with the code.
 */
const otpKey = (signupId: string) => `otp:${signupId}`;
const consumedKey = (signupId: string) => `otp-consumed:${signupId}`;
/** `run` is absent for release v2 workflows, which keyed by signup and sequence only. */
export const mailboxKey = (signupId: string, seq: number, run?: string) => (run ? `otp-mail:${signupId}:${run}:${seq}` : `otp-mail:${signupId}:${seq}`);

// Issues a code once per (signup, seq): a retried activity finds the sealed code already there.
// A new code also forgets which code was consumed last, so an older code never counts again.
// KEYS: otp, mailbox, otp-consumed. ARGV: stored value, sealed code, ttl ms.
const ISSUE = `
if redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3], 'NX') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  redis.call('DEL', KEYS[3])
  return 1
end
return 0`;

// Deletes the code only if it is still the one that was compared, so two racing verifications
// with the right code cannot both succeed, and remembers who consumed it and which code it was.
// KEYS: otp, otp-consumed. ARGV: stored value, consumer id, ttl ms.
const CONSUME = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('SET', KEYS[2], ARGV[2] .. '|' .. ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0`;

export type ConsumeResult = 'ok' | 'mismatch' | 'missing';

/** How long the consumer of a code is remembered: longer than any retry of its update. */
const CONSUMED_TTL_MS = 24 * 3_600_000;

/** The digest part of a stored "{seq}:{digest}". */
const codeOf = (stored: string) => stored.slice(stored.indexOf(':') + 1);

export function createCodeActivities(deps: { redis: Redis; keys: Keys }) {
  const { redis, keys } = deps;

  /**
   * Was this code the last one consumed? Then the workflow asking again means the consuming update
   * never completed in its history: the workflow only checks a code while it has no account and
   * has not ended, and handles one verification at a time, so a consume that did complete would
   * have stopped it asking. That covers the same update run again (a worker that crashed before
   * recording the result) and an update lost with the Temporal server (the client's retry is a new
   * update): both get 'ok', where 'missing' would burn a code its owner never used. Issuing a new
   * code forgets the consumed one (ISSUE), so only the latest code can count this way.
   */
  async function consumedEarlier(signupId: string, digest: string): Promise<boolean> {
    const record = await redis.get(consumedKey(signupId));
    const bar = record?.indexOf('|') ?? -1;
    // Records from before the digest was kept ("{update id}" alone) match nothing.
    return record !== null && record !== undefined && bar >= 0 && digestsEqual(codeOf(record.slice(bar + 1)), digest);
  }

  return {
    /** Creates code number `seq` for a signup; it replaces (invalidates) any earlier one. */
    async issueCode(input: { signupId: string; seq: number; ttlMs: number; run?: string }): Promise<void> {
      const code = generateCode();
      const digest = codeDigest(keys, input.signupId, code);
      const sealed = seal(keys, code, SealContext.pendingCode(input.signupId, input.seq));
      await redis.eval(ISSUE, 3, otpKey(input.signupId), mailboxKey(input.signupId, input.seq, input.run), consumedKey(input.signupId), `${input.seq}:${digest}`, sealed, input.ttlMs);
    },

    /**
     * Compares in constant time, then consumes atomically. The code last consumed counts as 'ok'
     * again while the workflow still asks for it (see consumedEarlier); `consumer` (the update id)
     * is kept with it for the operator.
     */
    async consumeCode(input: { signupId: string; digest: string; consumer?: string }): Promise<ConsumeResult> {
      const consumer = input.consumer ?? '';
      const stored = await redis.get(otpKey(input.signupId));
      if (!stored) return (await consumedEarlier(input.signupId, input.digest)) ? 'ok' : 'missing';
      if (!digestsEqual(codeOf(stored), input.digest)) return 'mismatch';
      const consumed = await redis.eval(CONSUME, 2, otpKey(input.signupId), consumedKey(input.signupId), stored, consumer, CONSUMED_TTL_MS);
      if (consumed === 1) return 'ok';
      return (await consumedEarlier(input.signupId, input.digest)) ? 'ok' : 'missing';
    },

    /** Release v2 only: a locked signup dropped its code. */
    async discardCode(input: { signupId: string }): Promise<void> {
      await redis.del(otpKey(input.signupId));
    },
  };
}
