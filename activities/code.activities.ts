import type Redis from 'ioredis';
import { digestsEqual, generateCode, seal, SealContext, codeDigest, type Keys } from '../common/crypto';

/**
 * Redis layout of a pending code:
 *   otp:{signupId}             -> "{seq}:{hmac digest}"  (what verification compares against)
 *   otp-mail:{signupId}:{run}:{seq} -> the code sealed for the mail activity (never the workflow);
 *                                  per run, since a new signup of the same email reuses the workflow id
 *   otp-consumed:{signupId}    -> the id of the update that consumed the last code
 * All expire with the code.
 */
const otpKey = (signupId: string) => `otp:${signupId}`;
const consumedKey = (signupId: string) => `otp-consumed:${signupId}`;
/** `run` is absent for release v2 workflows, which keyed by signup and sequence only. */
export const mailboxKey = (signupId: string, seq: number, run?: string) => (run ? `otp-mail:${signupId}:${run}:${seq}` : `otp-mail:${signupId}:${seq}`);

// Issues a code once per (signup, seq): a retried activity finds the sealed code already there.
const ISSUE = `
if redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3], 'NX') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0`;

// Deletes the code only if it is still the one that was compared, so two racing verifications
// with the right code cannot both succeed, and remembers who consumed it: the same update run
// again (a worker that crashed before recording the result) is told 'ok' again, not 'missing'.
// KEYS: otp, otp-consumed. ARGV: stored value, consumer id, ttl ms.
const CONSUME = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
  return 1
end
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) == ARGV[2] then return 1 end
return 0`;

export type ConsumeResult = 'ok' | 'mismatch' | 'missing';

/** How long the consumer of a code is remembered: longer than any retry of its update. */
const CONSUMED_TTL_MS = 24 * 3_600_000;

export function createCodeActivities(deps: { redis: Redis; keys: Keys }) {
  const { redis, keys } = deps;
  return {
    /** Creates code number `seq` for a signup; it replaces (invalidates) any earlier one. */
    async issueCode(input: { signupId: string; seq: number; ttlMs: number; run?: string }): Promise<void> {
      const code = generateCode();
      const digest = codeDigest(keys, input.signupId, code);
      const sealed = seal(keys, code, SealContext.pendingCode(input.signupId, input.seq));
      await redis.eval(ISSUE, 2, otpKey(input.signupId), mailboxKey(input.signupId, input.seq, input.run), `${input.seq}:${digest}`, sealed, input.ttlMs);
    },

    /**
     * Compares in constant time, then consumes atomically. `consumer` (the update id) makes a
     * repeat by the same update idempotent.
     */
    async consumeCode(input: { signupId: string; digest: string; consumer?: string }): Promise<ConsumeResult> {
      const consumer = input.consumer ?? '';
      const stored = await redis.get(otpKey(input.signupId));
      if (!stored) {
        if (consumer && (await redis.get(consumedKey(input.signupId))) === consumer) return 'ok';
        return 'missing';
      }
      const storedDigest = stored.slice(stored.indexOf(':') + 1);
      if (!digestsEqual(storedDigest, input.digest)) return 'mismatch';
      const consumed = await redis.eval(CONSUME, 2, otpKey(input.signupId), consumedKey(input.signupId), stored, consumer, CONSUMED_TTL_MS);
      return consumed === 1 ? 'ok' : 'missing';
    },

    /** Release v2 only: a locked signup dropped its code. */
    async discardCode(input: { signupId: string }): Promise<void> {
      await redis.del(otpKey(input.signupId));
    },
  };
}
