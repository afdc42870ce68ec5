/**
 * Kafka-side fuzzing: malformed, oversized, wrong-version, random (fast-check, fixed seed) and
 * duplicate messages written straight to the DB processor's request topic. The fuzzer holds the
 * request MAC key (it plays a requester with a bug), so each message reaches the parser: every
 * unreadable message lands in the dead-letter topic with a reason, a request that names a reply
 * address gets an INVALID_REQUEST answer instead of silence, an exact copy of a message is
 * dead-lettered as replayed while a retried request is answered alike and creates one row, and the
 * DB processor keeps serving (a /signin for an unknown email still gets 401).
 * test/integration/kafka-security.test.ts covers senders without the key.
 */
import bcrypt from 'bcrypt';
import fc from 'fast-check';
import type { Consumer, Kafka } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { deriveKeys, seal, SealContext } from '../../common/crypto';
import { EnvelopeSecurity } from '../../common/kafka/envelope-security';
import { MAX_MESSAGE_BYTES, MESSAGE_VERSION } from '../../common/kafka/messages';
import { TOPICS } from '../../common/kafka/topics';
import { uniqueEmail } from '../../testkit/env';
import { eventually } from '../../testkit/wait';
import { rawKafka, tap, type Seen } from '../support/kafka';
import { ApiClient } from '../../testkit/http';
import { startSystem, type System } from '../../testkit/system';

const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const RANDOM_RUNS = Number(process.env.KAFKA_FUZZ_RUNS ?? 60);


describe('Kafka fuzzing: the DB processor dead-letters what it cannot read and keeps serving', () => {
  let sys: System;
  let kafka: Kafka;
  const run = randomUUID().slice(0, 8);
  const keyPrefix = `fuzz-${run}-`;
  const replyTo = `fuzz-replies-${run}`;
  let dlq: { consumer: Consumer; seen: Seen[] };
  let replies: { consumer: Consumer; seen: Seen[] };
  const producerOf = () => kafka.producer({ allowAutoTopicCreation: false });
  let producer: ReturnType<typeof producerOf>;
  let security: EnvelopeSecurity;

  const envelope = (over: Record<string, unknown> = {}) => ({
    v: MESSAGE_VERSION,
    type: 'user.exists',
    correlationId: randomUUID(),
    replyTo,
    deadline: Date.now() + 60_000,
    payload: { email: `nobody-${run}@fuzz.example.com` },
    ...over,
  });
  /** The envelope as a requester puts it on the wire: payload encrypted when the routing allows it. */
  const wire = (env: Record<string, any>) =>
    JSON.stringify(
      typeof env.type === 'string' && typeof env.correlationId === 'string' && typeof env.replyTo === 'string' && env.payload !== undefined
        ? { ...env, payload: security.encrypt('request', [env.type, env.correlationId, env.replyTo], env.payload) }
        : env,
    );
  /** Signed with the request key, as every requester does. */
  const send = async (key: string, value: string | Buffer | null) => {
    await producer.send({ topic: TOPICS.dbRequests, messages: [{ key, value, headers: security.sign('request', TOPICS.dbRequests, key, value ?? '') }] });
  };
  const replyFor = (correlationId: string) =>
    replies.seen
      .filter((r) => r.value && JSON.parse(r.value.toString('utf8')).correlationId === correlationId)
      .map((r) => JSON.parse(r.value!.toString('utf8')))
      .map((r) => (r.ok ? { ...r, result: security.openReplyResult(r) } : r));

  beforeAll(async () => {
    sys = await startSystem({ withWorker: false });
    security = EnvelopeSecurity.fromConfig(sys.config);
    kafka = rawKafka(sys.config, `kafka-fuzz-${run}`);
    dlq = await tap(kafka, TOPICS.dbDeadLetter, (m) => m.key?.toString('utf8').startsWith(keyPrefix) ?? false);
    replies = await tap(kafka, TOPICS.dbReplies, (m) => m.key?.toString('utf8') === replyTo);
    producer = producerOf();
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect().catch(() => undefined);
    await dlq?.consumer.disconnect().catch(() => undefined);
    await replies?.consumer.disconnect().catch(() => undefined);
    await sys?.close();
  });

  const waitDeadLettered = (keys: string[], timeoutMs = 60_000) =>
    eventually(async () => (keys.every((k) => dlq.seen.some((s) => s.key === k)) ? true : undefined), timeoutMs, `${keys.length} keys in the dead-letter topic`).catch(
      (err: Error) => {
        const missing = keys.filter((k) => !dlq.seen.some((s) => s.key === k));
        throw new Error(`${err.message}; missing: ${missing.join(', ')}`);
      },
    );

  it('dead-letters malformed, oversized and wrong-version messages with the reason', async () => {
    const big = wire(envelope({ payload: { email: `nobody-${run}@fuzz.example.com`, pad: 'x'.repeat(MAX_MESSAGE_BYTES + 4096) } }));
    expect(Buffer.byteLength(big)).toBeGreaterThan(16 * 1024);
    const next = envelope({ v: MESSAGE_VERSION + 1 });
    const nextWire = wire(next);
    const unencrypted = envelope();
    const badPayload = envelope({ payload: { email: 5 } });
    const cases: Array<[string, string | Buffer | null, string]> = [
      ['null-value', null, 'empty'],
      ['empty-string', '', 'empty'],
      ['not-json', 'this is not json {', 'not_json'],
      ['binary', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x7b]), 'not_json'],
      ['truncated-json', wire(envelope()).slice(0, 40), 'not_json'],
      ['oversized-20k', big, 'too_large'],
      ['oversized-200k', 'y'.repeat(200 * 1024), 'too_large'],
      ['version-next', nextWire, 'unsupported_version'],
      ['version-1', wire(envelope({ v: 1 })), 'unsupported_version'],
      ['version-string', wire(envelope({ v: String(MESSAGE_VERSION) })), 'unsupported_version'],
      ['version-0', wire(envelope({ v: 0 })), 'unsupported_version'],
      ['no-version', wire({ ...envelope(), v: undefined }), 'invalid_envelope'],
      ['json-null', 'null', 'invalid_envelope'],
      ['json-array', '[1,2,3]', 'invalid_envelope'],
      ['json-number', '42', 'invalid_envelope'],
      ['json-string', '"user.exists"', 'invalid_envelope'],
      ['unknown-type', wire(envelope({ type: 'user.delete' })), 'invalid_envelope'],
      ['extra-key', wire(envelope({ admin: true })), 'invalid_envelope'],
      ['proto-key', `{"__proto__":{"v":${MESSAGE_VERSION}},${wire(envelope()).slice(1)}`, 'invalid_envelope'],
      ['bad-correlation', wire(envelope({ correlationId: 'not-a-uuid' })), 'invalid_envelope'],
      ['deadline-string', wire(envelope({ deadline: String(Date.now() + 60_000) })), 'invalid_envelope'],
      ['deep-nesting', `{"v":${MESSAGE_VERSION},"payload":${'['.repeat(5000)}${']'.repeat(5000)}}`, 'invalid_envelope'],
      ['plaintext-payload', JSON.stringify(unencrypted), 'undecryptable'],
      ['payload-of-another-message', JSON.stringify({ ...envelope(), payload: JSON.parse(wire(envelope())).payload }), 'undecryptable'],
      ['bad-payload', wire(badPayload), 'invalid_payload'],
      ['payload-extra-key', wire(envelope({ payload: { email: 'a@b.co', extra: 1 } })), 'invalid_payload'],
      [
        'unsealable',
        wire(envelope({ type: 'user.create', payload: { signupRef: `fuzz/${run}`, email: `unsealable-${run}@fuzz.example.com`, name: 'X', passwordSealed: 'v1.AAAA.BBBB.CCCC' } })),
        'unsealable_payload',
      ],
    ];
    for (const [name, value] of cases) await send(keyPrefix + name, value);
    await waitDeadLettered(cases.map(([name]) => keyPrefix + name));
    const reasons = Object.fromEntries(cases.map(([name]) => [name, dlq.seen.find((s) => s.key === keyPrefix + name)!.headers['x-dlq-reason']]));
    expect(reasons).toEqual(Object.fromEntries(cases.map(([name, , reason]) => [name, reason])));
    // The original bytes are kept for inspection.
    expect(dlq.seen.find((s) => s.key === `${keyPrefix}version-next`)!.value!.toString('utf8')).toBe(nextWire);
    // A request that says where to answer gets an answer, not silence until its deadline.
    for (const env of [next, badPayload, unencrypted]) {
      const [reply] = await eventually(async () => (replyFor(env.correlationId).length ? replyFor(env.correlationId) : undefined), 30_000, 'INVALID_REQUEST reply');
      expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    }
  });

  it(`dead-letters ${RANDOM_RUNS} random messages (fast-check, fixed seed)`, async () => {
    // Each is unreadable by construction: random bytes, random JSON (never an envelope), or a
    // valid envelope with one field replaced by a value of the wrong type.
    const wrongType = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.nat(), { maxLength: 2 }), fc.object({ maxDepth: 1 }));
    const mutated = fc
      .tuple(fc.constantFrom('v', 'type', 'correlationId', 'replyTo', 'deadline', 'payload.email'), wrongType, fc.string({ maxLength: 20 }))
      .map(([field, value, str]) => {
        const env: Record<string, any> = envelope();
        const replacement = field === 'deadline' || field === 'v' ? (typeof value === 'number' ? str : value) : value;
        if (field === 'payload.email') env.payload = { email: replacement };
        else env[field] = replacement;
        if (field === 'v' && replacement === MESSAGE_VERSION) env.v = 'one';
        return wire(env);
      });
    const message = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
      mutated,
    );
    const keys: string[] = [];
    await fc.assert(
      fc.asyncProperty(message, async (value) => {
        const key = `${keyPrefix}random-${keys.length}`;
        keys.push(key);
        await send(key, value);
        return true;
      }),
      { seed: SEED, numRuns: RANDOM_RUNS },
    );
    await waitDeadLettered(keys);
    for (const k of keys) expect(dlq.seen.find((s) => s.key === k)!.headers['x-dlq-reason']).toMatch(/^(empty|not_json|too_large|unsupported_version|invalid_envelope|invalid_payload)$/);
  });

  it('dead-letters exact copies as replayed, answers retried requests alike, creates one row, and drops expired ones', async () => {
    /** One signed message, sent `times` times byte for byte (headers included). */
    const sendCopies = async (key: string, value: string, times: number) => {
      const headers = security.sign('request', TOPICS.dbRequests, key, value);
      for (let i = 0; i < times; i++) await producer.send({ topic: TOPICS.dbRequests, messages: [{ key, value, headers }] });
    };
    // The same user.exists message twice: one answer, the copy dead-lettered as replayed. The same
    // request signed again (a new message, as a redelivery through a requester would be) is answered alike.
    const exists = envelope();
    await sendCopies(`${keyPrefix}dup-exists`, wire(exists), 2);
    await send(`${keyPrefix}dup-exists`, wire(exists));
    const existsReplies = await eventually(async () => (replyFor(exists.correlationId).length >= 2 ? replyFor(exists.correlationId) : undefined), 30_000, 'two replies');
    expect(existsReplies.map((r) => r.result)).toEqual([{ exists: false }, { exists: false }]);
    await waitDeadLettered([`${keyPrefix}dup-exists`]);

    // The same user.create message twice, the request signed anew, and once more under another
    // correlation id: one row, one user; every answer names it.
    const keys = deriveKeys(sys.config);
    const email = uniqueEmail('kafka-dup');
    const hash = await bcrypt.hash('correct horse battery staple', 4);
    const signupRef = `fuzz/${run}/create`;
    const payload = { signupRef, email, name: 'Kafka Dup', passwordSealed: seal(keys, hash, SealContext.passwordHashForSignup(signupRef)) };
    const create = envelope({ type: 'user.create', payload });
    const again = envelope({ type: 'user.create', payload });
    const otherRef = `fuzz/${run}/other`;
    const otherSignup = envelope({ type: 'user.create', payload: { ...payload, signupRef: otherRef, passwordSealed: seal(keys, hash, SealContext.passwordHashForSignup(otherRef)) } });
    await sendCopies(`${keyPrefix}dup-create`, wire(create), 2);
    await send(`${keyPrefix}dup-create`, wire(create));
    await send(`${keyPrefix}dup-create`, wire(again));
    const created = await eventually(async () => (replyFor(create.correlationId).length >= 2 && replyFor(again.correlationId).length >= 1 ? [...replyFor(create.correlationId), ...replyFor(again.correlationId)] : undefined), 30_000, 'three create replies');
    expect(created.every((r) => r.ok === true)).toBe(true);
    expect(new Set(created.map((r) => r.result.user.id)).size).toBe(1);
    await send(`${keyPrefix}dup-create`, wire(otherSignup));
    const [taken] = await eventually(async () => (replyFor(otherSignup.correlationId).length ? replyFor(otherSignup.correlationId) : undefined), 30_000, 'EMAIL_TAKEN reply');
    expect(taken).toMatchObject({ ok: false, error: { code: 'EMAIL_TAKEN' } });

    const db = new Client({ connectionString: sys.config.DATABASE_URL });
    await db.connect();
    try {
      const { rows } = await db.query('SELECT count(*)::int AS n FROM users WHERE lower(email) = lower($1)', [email]);
      expect(rows[0].n).toBe(1);
    } finally {
      await db.end();
    }

    // A request past its deadline is dropped: no answer, no dead letter.
    const expired = envelope({ deadline: Date.now() - 1_000 });
    await send(`${keyPrefix}expired`, wire(expired));
    const marker = envelope();
    await send(`${keyPrefix}expired`, wire(marker)); // same key, same partition, after it
    await eventually(async () => (replyFor(marker.correlationId).length ? true : undefined), 30_000, 'the marker reply');
    expect(replyFor(expired.correlationId)).toEqual([]);
    expect(dlq.seen.some((s) => s.key === `${keyPrefix}expired`)).toBe(false);
    // Exactly the two byte-for-byte copies were dead-lettered, both as replays.
    await waitDeadLettered([`${keyPrefix}dup-create`]);
    const dups = dlq.seen.filter((s) => s.key.startsWith(`${keyPrefix}dup-`));
    expect(dups.map((d) => [d.key, d.headers['x-dlq-reason']]).sort()).toEqual([
      [`${keyPrefix}dup-create`, 'replayed'],
      [`${keyPrefix}dup-exists`, 'replayed'],
    ]);
  });

  it('keeps serving: a /signin for an unknown email still answers 401, and the DB processor is ready', async () => {
    const api = new ApiClient(sys.apiUrl);
    const res = await api.post('/signin', { email: uniqueEmail('after-kafka-fuzz'), password: 'correct horse battery staple' });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('INVALID_CREDENTIALS');
    const ready = await fetch(`http://127.0.0.1:${sys.dbProcessor!.healthPort}/health/ready`);
    expect(ready.status).toBe(200);
  });
});
