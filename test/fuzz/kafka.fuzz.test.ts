/**
 * Kafka-side fuzzing: malformed, oversized, wrong-version, random (fast-check, fixed seed) and
 * duplicate messages written straight to the DB processor's request topic. Properties: every
 * unreadable message lands in the dead-letter topic with a reason, a request that names a reply
 * address gets an INVALID_REQUEST answer instead of silence, duplicates are answered alike and
 * create one row, and the DB processor keeps serving (a /signin for an unknown email still gets 401).
 */
import bcrypt from 'bcrypt';
import fc from 'fast-check';
import { Kafka, logLevel, type Consumer, type KafkaMessage } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { deriveKeys, seal, SealContext } from '../../common/crypto';
import { MAX_MESSAGE_BYTES, MESSAGE_VERSION } from '../../common/kafka/messages';
import { TOPICS } from '../../common/kafka/topics';
import { eventually, uniqueEmail } from '../support/env';
import { ApiClient } from '../support/http';
import { startSystem, type System } from '../support/system';

const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const RANDOM_RUNS = Number(process.env.KAFKA_FUZZ_RUNS ?? 60);

interface Seen {
  key: string;
  value: Buffer | null;
  headers: Record<string, string>;
}

const headerMap = (m: KafkaMessage) =>
  Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('utf8') : String(v)]));

/** A fresh consumer group reading `topic` from the offsets it had before we sent anything. */
async function tap(kafka: Kafka, topic: string, keep: (m: KafkaMessage) => boolean): Promise<{ consumer: Consumer; seen: Seen[] }> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const start = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  const seen: Seen[] = [];
  const consumer = kafka.consumer({ groupId: `fuzz-tap-${randomUUID()}`, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      if (BigInt(message.offset) < (start.get(partition) ?? 0n)) return;
      if (!keep(message)) return;
      seen.push({ key: message.key?.toString('utf8') ?? '', value: message.value, headers: headerMap(message) });
    },
  });
  for (const [partition, offset] of start) consumer.seek({ topic, partition, offset: offset.toString() });
  return { consumer, seen };
}

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

  const envelope = (over: Record<string, unknown> = {}) => ({
    v: MESSAGE_VERSION,
    type: 'user.exists',
    correlationId: randomUUID(),
    replyTo,
    deadline: Date.now() + 60_000,
    payload: { email: `nobody-${run}@fuzz.example.com` },
    ...over,
  });
  const send = async (key: string, value: string | Buffer | null) => {
    await producer.send({ topic: TOPICS.dbRequests, messages: [{ key, value }] });
  };
  const replyFor = (correlationId: string) =>
    replies.seen.filter((r) => r.value && JSON.parse(r.value.toString('utf8')).correlationId === correlationId).map((r) => JSON.parse(r.value!.toString('utf8')));

  beforeAll(async () => {
    sys = await startSystem({ withWorker: false });
    kafka = new Kafka({ clientId: `kafka-fuzz-${run}`, brokers: sys.config.KAFKA_BROKERS, logLevel: logLevel.NOTHING });
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
    const big = JSON.stringify(envelope({ payload: { email: `nobody-${run}@fuzz.example.com`, pad: 'x'.repeat(MAX_MESSAGE_BYTES + 4096) } }));
    expect(Buffer.byteLength(big)).toBeGreaterThan(16 * 1024);
    const v2 = envelope({ v: 2 });
    const badPayload = envelope({ payload: { email: 5 } });
    const cases: Array<[string, string | Buffer | null, string]> = [
      ['null-value', null, 'empty'],
      ['empty-string', '', 'empty'],
      ['not-json', 'this is not json {', 'not_json'],
      ['binary', Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x7b]), 'not_json'],
      ['truncated-json', JSON.stringify(envelope()).slice(0, 40), 'not_json'],
      ['oversized-20k', big, 'too_large'],
      ['oversized-200k', 'y'.repeat(200 * 1024), 'too_large'],
      ['version-2', JSON.stringify(v2), 'unsupported_version'],
      ['version-string', JSON.stringify(envelope({ v: '1' })), 'unsupported_version'],
      ['version-0', JSON.stringify(envelope({ v: 0 })), 'unsupported_version'],
      ['no-version', JSON.stringify({ ...envelope(), v: undefined }), 'invalid_envelope'],
      ['json-null', 'null', 'invalid_envelope'],
      ['json-array', '[1,2,3]', 'invalid_envelope'],
      ['json-number', '42', 'invalid_envelope'],
      ['json-string', '"user.exists"', 'invalid_envelope'],
      ['unknown-type', JSON.stringify(envelope({ type: 'user.delete' })), 'invalid_envelope'],
      ['extra-key', JSON.stringify(envelope({ admin: true })), 'invalid_envelope'],
      ['proto-key', `{"__proto__":{"v":1},${JSON.stringify(envelope()).slice(1)}`, 'invalid_envelope'],
      ['bad-correlation', JSON.stringify(envelope({ correlationId: 'not-a-uuid' })), 'invalid_envelope'],
      ['deadline-string', JSON.stringify(envelope({ deadline: String(Date.now() + 60_000) })), 'invalid_envelope'],
      ['deep-nesting', `{"v":1,"payload":${'['.repeat(5000)}${']'.repeat(5000)}}`, 'invalid_envelope'],
      ['bad-payload', JSON.stringify(badPayload), 'invalid_payload'],
      ['payload-extra-key', JSON.stringify(envelope({ payload: { email: 'a@b.co', extra: 1 } })), 'invalid_payload'],
      [
        'unsealable',
        JSON.stringify(envelope({ type: 'user.create', payload: { signupRef: `fuzz/${run}`, email: `unsealable-${run}@fuzz.example.com`, name: 'X', passwordSealed: 'v1.AAAA.BBBB.CCCC' } })),
        'unsealable_payload',
      ],
    ];
    for (const [name, value] of cases) await send(keyPrefix + name, value);
    await waitDeadLettered(cases.map(([name]) => keyPrefix + name));
    const reasons = Object.fromEntries(cases.map(([name]) => [name, dlq.seen.find((s) => s.key === keyPrefix + name)!.headers['x-dlq-reason']]));
    expect(reasons).toEqual(Object.fromEntries(cases.map(([name, , reason]) => [name, reason])));
    // The original bytes are kept for inspection.
    expect(dlq.seen.find((s) => s.key === `${keyPrefix}version-2`)!.value!.toString('utf8')).toBe(JSON.stringify(v2));
    // A request that says where to answer gets an answer, not silence until its deadline.
    for (const env of [v2, badPayload]) {
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
        return JSON.stringify(env);
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

  it('answers duplicate requests alike, creates one row for a duplicated create, and drops expired ones', async () => {
    // The same user.exists twice (same correlation id): two identical answers, nothing dead-lettered.
    const exists = envelope();
    await send(`${keyPrefix}dup-exists`, JSON.stringify(exists));
    await send(`${keyPrefix}dup-exists`, JSON.stringify(exists));
    const existsReplies = await eventually(async () => (replyFor(exists.correlationId).length >= 2 ? replyFor(exists.correlationId) : undefined), 30_000, 'two replies');
    expect(existsReplies.map((r) => r.result)).toEqual([{ exists: false }, { exists: false }]);

    // The same user.create delivered twice, and once more under another correlation id: one row, one user.
    const keys = deriveKeys(sys.config);
    const email = uniqueEmail('kafka-dup');
    const hash = await bcrypt.hash('correct horse battery staple', 4);
    const payload = { signupRef: `fuzz/${run}/create`, email, name: 'Kafka Dup', passwordSealed: seal(keys, hash, SealContext.passwordHash(email)) };
    const create = envelope({ type: 'user.create', payload });
    const again = envelope({ type: 'user.create', payload });
    const otherSignup = envelope({ type: 'user.create', payload: { ...payload, signupRef: `fuzz/${run}/other` } });
    await send(`${keyPrefix}dup-create`, JSON.stringify(create));
    await send(`${keyPrefix}dup-create`, JSON.stringify(create));
    await send(`${keyPrefix}dup-create`, JSON.stringify(again));
    const created = await eventually(async () => (replyFor(create.correlationId).length >= 2 && replyFor(again.correlationId).length >= 1 ? [...replyFor(create.correlationId), ...replyFor(again.correlationId)] : undefined), 30_000, 'three create replies');
    expect(created.every((r) => r.ok === true)).toBe(true);
    expect(new Set(created.map((r) => r.result.user.id)).size).toBe(1);
    await send(`${keyPrefix}dup-create`, JSON.stringify(otherSignup));
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
    await send(`${keyPrefix}expired`, JSON.stringify(expired));
    const marker = envelope();
    await send(`${keyPrefix}expired`, JSON.stringify(marker)); // same key, same partition, after it
    await eventually(async () => (replyFor(marker.correlationId).length ? true : undefined), 30_000, 'the marker reply');
    expect(replyFor(expired.correlationId)).toEqual([]);
    expect(dlq.seen.some((s) => s.key === `${keyPrefix}expired`)).toBe(false);
    expect(dlq.seen.some((s) => s.key.startsWith(`${keyPrefix}dup-`))).toBe(false);
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
