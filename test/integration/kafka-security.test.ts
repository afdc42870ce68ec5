/**
 * Authenticated, confidential Kafka on the real stack. An attacker who can write the request topic
 * but holds no key sends forged (no MAC, wrong key, unknown key id), tampered (one byte changed),
 * replayed (exact copy, also to a restarted DB processor) and stale messages: each is dead-lettered
 * with its reason, gets no reply and changes no row. A forged reply is ignored by the requester.
 * A reader of the topics finds neither the email nor the name of a user who signed up and in.
 */
import bcrypt from 'bcrypt';
import type { Consumer, Producer } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { deriveKeys, seal, SealContext, SealError, unseal } from '../../common/crypto';
import { EnvelopeSecurity, SECURITY_HEADERS } from '../../common/kafka/envelope-security';
import { MESSAGE_VERSION } from '../../common/kafka/messages';
import { KafkaRequester, RemoteError, RequestTimeoutError } from '../../common/kafka/request-reply';
import { joinAtHighWatermarks } from '../../common/kafka/reply-offsets';
import { TOPICS } from '../../common/kafka/topics';
import { MikroORM } from '@mikro-orm/postgresql';
import { ReplayGuard } from '../../db-processor/replay-guard';
import { ormConfig } from '../../entities/mikro-orm.config';
import { withDb } from '../../testkit/db';
import { quietLogger, uniqueEmail } from '../../testkit/env';
import { eventually } from '../../testkit/wait';
import { ApiClient } from '../../testkit/http';
import { rawKafka, tap, type Seen } from '../support/kafka';
import { findCanaries } from '../support/leak-scan';
import { waitForCode } from '../../testkit/maildev';
import { startSystem, useSystem, type System } from '../../testkit/system';

type Message = { key: string | Buffer; value: string | Buffer; headers: Record<string, string> };

describe('Kafka messages are authenticated: forged, tampered, replayed and stale requests change nothing', () => {
  let sys: System;
  let security: EnvelopeSecurity;
  let producer: Producer;
  let dlq: { consumer: Consumer; seen: Seen[] };
  let replies: { consumer: Consumer; seen: Seen[] };
  let requests: { consumer: Consumer; seen: Seen[] };
  const replyTo = `kafka-security-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    sys = await startSystem();
    security = EnvelopeSecurity.fromConfig(sys.config);
    const kafka = rawKafka(sys.config, 'kafka-security');
    dlq = await tap(kafka, TOPICS.dbDeadLetter);
    replies = await tap(kafka, TOPICS.dbReplies);
    requests = await tap(kafka, TOPICS.dbRequests);
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
  });

  afterAll(async () => {
    await producer?.disconnect().catch(() => undefined);
    for (const t of [dlq, replies, requests]) await t?.consumer.disconnect().catch(() => undefined);
    await sys?.close();
  });

  const send = (m: Message) => producer.send({ topic: TOPICS.dbRequests, messages: [m] });

  /** A well-formed user.create for a new email, signed with the real request key. */
  async function createRequest(email: string, signer = security) {
    const signupRef = `kafka-security/${randomUUID()}`;
    const hash = await bcrypt.hash('correct horse battery staple', 4);
    const keys = deriveKeys(sys.config);
    const route = { type: 'user.create', correlationId: randomUUID(), replyTo, deadline: Date.now() + 120_000 };
    const payload = { signupRef, email, name: 'Mallory Target', passwordSealed: seal(keys, hash, SealContext.passwordHashForSignup(signupRef)) };
    return { route, message: signer.requestMessage(route, payload, email) as Message };
  }

  const repliesTo = (correlationId: string) =>
    replies.seen.filter((r) => r.key === replyTo && r.value && JSON.parse(r.value.toString('utf8')).correlationId === correlationId);
  const deadLettered = (msgKey: string, messageId?: string) =>
    dlq.seen.filter((s) => s.key === msgKey && (messageId === undefined || s.headers[SECURITY_HEADERS.id] === messageId));
  const usersWith = (email: string) => withDb(sys.config.DATABASE_URL, (sql) => sql('select id from users where email = ?', [email]));

  /** Sends a harmless signed marker after `key`'s message (same key, same partition) and waits for its reply. */
  async function drainPartitionOf(businessKey: string) {
    const route = { type: 'user.exists', correlationId: randomUUID(), replyTo, deadline: Date.now() + 120_000 };
    await send(security.requestMessage(route, { email: businessKey }, businessKey));
    await eventually(async () => (repliesTo(route.correlationId).length ? true : undefined), 60_000, 'the marker reply');
  }

  async function expectRefused(email: string, correlationId: string, msgKey: string, reason: string) {
    const [dead] = await eventually(async () => (deadLettered(msgKey).length ? deadLettered(msgKey) : undefined), 60_000, `a dead letter (${reason})`);
    expect(dead.headers['x-dlq-reason']).toBe(reason);
    await drainPartitionOf(email);
    expect(repliesTo(correlationId)).toEqual([]);
    expect(await usersWith(email)).toEqual([]);
  }

  it('a correctly signed request creates the user and is answered (the harness can succeed)', async () => {
    const email = uniqueEmail('kafka-signed');
    const { route, message } = await createRequest(email);
    await send(message);
    const [reply] = await eventually(async () => (repliesTo(route.correlationId).length ? repliesTo(route.correlationId) : undefined), 60_000, 'the reply');
    const body = JSON.parse(reply.value!.toString('utf8'));
    expect(body.ok).toBe(true);
    expect(security.verify('reply', TOPICS.dbReplies, { key: reply.keyBytes, value: reply.value, headers: reply.headers })).toMatchObject({ ok: true });
    expect(security.openReplyResult(body)).toMatchObject({ user: { email } });
    expect(await usersWith(email)).toHaveLength(1);
  });

  it('a user.find reply seals the password hash for that user only', async () => {
    const email = uniqueEmail('kafka-find');
    const created = await createRequest(email);
    await send(created.message);
    await eventually(async () => (repliesTo(created.route.correlationId).length ? true : undefined), 60_000, 'the create reply');
    const route = { type: 'user.find', correlationId: randomUUID(), replyTo, deadline: Date.now() + 120_000 };
    await send(security.requestMessage(route, { email }, email));
    const [reply] = await eventually(async () => (repliesTo(route.correlationId).length ? repliesTo(route.correlationId) : undefined), 60_000, 'the find reply');
    const { user } = security.openReplyResult(JSON.parse(reply.value!.toString('utf8'))) as { user: { id: string; passwordSealed: string } };
    const keys = deriveKeys(sys.config);
    expect(unseal(keys, user.passwordSealed, SealContext.passwordHashForUser(user.id))).toMatch(/^\$2[aby]\$/);
    expect(() => unseal(keys, user.passwordSealed, SealContext.passwordHashForUser(randomUUID()))).toThrow(SealError);
    expect(() => unseal(keys, user.passwordSealed, SealContext.passwordHash(email))).toThrow(SealError);
  });

  it('a request without MAC headers is dead-lettered as mac_missing', async () => {
    const email = uniqueEmail('kafka-nomac');
    const { route, message } = await createRequest(email);
    await send({ key: message.key, value: message.value, headers: {} });
    await expectRefused(email, route.correlationId, String(message.key), 'mac_missing');
  });

  it('a request MACed with a key the system does not hold is dead-lettered as mac_invalid', async () => {
    const email = uniqueEmail('kafka-badmac');
    const attacker = new EnvelopeSecurity({
      requestMacKeys: `${security.sign('request', 'x', null, 'x')[SECURITY_HEADERS.kid]}:attacker-guess-of-the-request-key`,
      replyMacKeys: 'a:attacker',
      payloadKeys: 'dev:attacker-payload-key', // the payload is sealed with the real key below
      messageKeySecret: 'attacker',
      maxAgeMs: 300_000,
    });
    const { route, message } = await createRequest(email);
    const forged = attacker.sign('request', TOPICS.dbRequests, message.key, message.value);
    await send({ key: message.key, value: message.value, headers: forged });
    await expectRefused(email, route.correlationId, String(message.key), 'mac_invalid');
  });

  it('a request signed for the requests topic, copied onto the audit lane, is dead-lettered as mac_invalid and changes nothing', async () => {
    const email = uniqueEmail('kafka-lane');
    const { route, message } = await createRequest(email);
    await producer.send({ topic: TOPICS.dbAudit, messages: [message] });
    await expectRefused(email, route.correlationId, String(message.key), 'mac_invalid');
    expect(deadLettered(String(message.key))[0].headers['x-source-topic']).toBe(TOPICS.dbAudit);
  });

  it('a request naming an unknown key id is dead-lettered as unknown_key_id', async () => {
    const email = uniqueEmail('kafka-kid');
    const { route, message } = await createRequest(email);
    await send({ ...message, headers: { ...message.headers, [SECURITY_HEADERS.kid]: 'retired-2019' } });
    await expectRefused(email, route.correlationId, String(message.key), 'unknown_key_id');
  });

  it('a validly signed request with one byte of its value changed is dead-lettered as mac_invalid', async () => {
    const email = uniqueEmail('kafka-tamper');
    const { route, message } = await createRequest(email);
    const value = Buffer.from(message.value as string, 'utf8');
    // Move the deadline by one digit: still valid JSON, still a valid envelope, only the MAC notices.
    const at = value.indexOf('"deadline":') + '"deadline":'.length;
    value[at] = value[at] === 0x39 ? 0x38 : value[at] + 1;
    expect(JSON.parse(value.toString('utf8')).deadline).not.toBe(route.deadline);
    await send({ ...message, value });
    await expectRefused(email, route.correlationId, String(message.key), 'mac_invalid');
  });

  it('a request signed more than the freshness window ago is dead-lettered as stale', async () => {
    const email = uniqueEmail('kafka-stale');
    const past = EnvelopeSecurity.fromConfig(sys.config, () => Date.now() - sys.config.KAFKA_MESSAGE_MAX_AGE_S * 1000 - 60_000);
    const { route, message } = await createRequest(email, past);
    await send(message);
    await expectRefused(email, route.correlationId, String(message.key), 'stale');
  });

  it('an exact copy of a handled request is dead-lettered as replayed, also by a restarted DB processor', async () => {
    // user.find answers with the sealed password hash: a replay would hand it out again.
    const email = uniqueEmail('kafka-replay');
    const { route, message } = await createRequest(email);
    await send(message);
    await eventually(async () => (repliesTo(route.correlationId).length ? true : undefined), 60_000, 'the first reply');
    const [{ id }] = await usersWith(email);
    await withDb(sys.config.DATABASE_URL, (sql) => sql('update users set name = ? where id = ?', ['Renamed Meanwhile', id]));

    // A new instance has no memory of its own: the seen ids live in Postgres, shared by all.
    await sys.stopDbProcessor();
    await sys.startDbProcessor();
    await send(message);
    const [dead] = await eventually(async () => (deadLettered(String(message.key), message.headers[SECURITY_HEADERS.id]).length ? deadLettered(String(message.key), message.headers[SECURITY_HEADERS.id]) : undefined), 60_000, 'the replay dead-lettered');
    expect(dead.headers['x-dlq-reason']).toBe('replayed');
    await drainPartitionOf(email);
    expect(repliesTo(route.correlationId)).toHaveLength(1);
    const rows = await withDb(sys.config.DATABASE_URL, (sql) => sql('select id, name from users where email = ?', [email]));
    expect(rows).toEqual([{ id, name: 'Renamed Meanwhile' }]);
  });

  it('the seen-id store keeps ids for the freshness window and purges older ones', async () => {
    const orm = await MikroORM.init(ormConfig(sys.config.DATABASE_URL, { pool: { min: 0, max: 2 } }));
    try {
      const windowMs = sys.config.KAFKA_MESSAGE_MAX_AGE_S * 1000;
      const guard = new ReplayGuard(orm, windowMs);
      const [old, recent] = [randomUUID(), randomUUID()];
      expect(await guard.claim(old, Date.now() - 2 * windowMs - 60_000)).toBe(true);
      expect(await guard.claim(recent, Date.now() - windowMs)).toBe(true);
      expect(await guard.claim(recent, Date.now())).toBe(false);
      expect(await guard.purge()).toBeGreaterThanOrEqual(1);
      const left = await withDb(sys.config.DATABASE_URL, (sql) => sql('select message_id from kafka_seen_messages where message_id in (?, ?)', [old, recent]));
      expect(left.map((r) => r.message_id)).toEqual([recent]);
    } finally {
      await orm.close(true);
    }
  });

  it('a password hash sealed for one signup cannot be used by another signup', async () => {
    const email = uniqueEmail('kafka-moved-seal');
    const { route, message } = await createRequest(email);
    const original = security.openRequestPayload(JSON.parse(message.value as string)) as Record<string, string>;
    // The requester itself (holding every key) re-sends the sealed hash under another signup reference.
    const moved = { ...route, correlationId: randomUUID() };
    await send(security.requestMessage(moved, { ...original, signupRef: `kafka-security/${randomUUID()}` }, email));
    await eventually(async () => (deadLettered(security.messageKey(email)).length ? true : undefined), 60_000, 'the moved seal dead-lettered');
    expect(deadLettered(security.messageKey(email))[0].headers['x-dlq-reason']).toBe('unsealable_payload');
    expect(await usersWith(email)).toEqual([]);
  });

  it('the requester ignores a reply without a valid MAC, and accepts the same reply signed', async () => {
    const kafka = rawKafka(sys.config, 'kafka-security-requester');
    const requester = new KafkaRequester(kafka, { role: 'test', timeoutMs: 8_000, logger: quietLogger(), security });
    await requester.start();
    await sys.stopDbProcessor(); // nobody else answers
    try {
      const answer = async (sign: boolean) => {
        const email = uniqueEmail('kafka-forged-reply');
        const pending = requester.request('user.exists', { email }, { key: email }).then(
          (r) => ({ ok: r }),
          (e: Error) => ({ err: e }),
        );
        const [req] = await eventually(async () => {
          const found = requests.seen.filter((s) => s.key === security.messageKey(email));
          return found.length ? found : undefined;
        }, 30_000, 'the request on the topic');
        const { correlationId, replyTo: to } = JSON.parse(req.value!.toString('utf8'));
        // Claims an EMAIL_TAKEN refusal in clear: needs no payload key, only the reply MAC.
        const forged = security.replyMessage({ correlationId, replyTo: to }, { ok: false, error: { code: 'EMAIL_TAKEN', message: 'forged' } });
        await producer.send({ topic: TOPICS.dbReplies, messages: [sign ? forged : { ...forged, headers: { ...forged.headers, [SECURITY_HEADERS.mac]: 'AAAA' } }] });
        return pending;
      };
      const unsigned = await answer(false);
      expect('err' in unsigned && unsigned.err).toBeInstanceOf(RequestTimeoutError);
      const signed = await answer(true);
      expect('err' in signed && signed.err).toBeInstanceOf(RemoteError);
      expect('err' in signed && (signed.err as RemoteError).message).toBe('forged');
    } finally {
      await requester.close();
      await sys.startDbProcessor();
    }
  });
});

describe('Kafka topics carry no email and no name', () => {
  let sys: System;
  useSystem({}, (started) => (sys = started));

  it('a signup, verify and signin leave neither email nor name readable in the request, reply or dead-letter topics', async () => {
    const kafka = rawKafka(sys.config, 'kafka-leak');
    const taps = await Promise.all([TOPICS.dbRequests, TOPICS.dbReplies, TOPICS.dbDeadLetter].map((t) => tap(kafka, t)));
    try {
      const token = randomUUID().replace(/-/g, '').slice(0, 12);
      const email = `canary-${token}@test.example.com`;
      const name = `Canaryname ${token}`;
      const client = new ApiClient(sys.apiUrl);
      expect((await client.post('/signup', { email })).status).toBe(202);
      const otp = await waitForCode(email);
      const verify = await client.post('/verify', { email, otp, password: 'correct horse battery staple', name });
      expect(verify.status).toBe(201);
      const signin = await new ApiClient(sys.apiUrl).post('/signin', { email, password: 'correct horse battery staple' });
      expect(signin.status).toBe(200);
      // exists + create requests, find request, and their three replies at least.
      await eventually(async () => (taps[0].seen.length >= 3 && taps[1].seen.length >= 3 ? true : undefined), 30_000, 'the requests and replies');

      const sources = taps.flatMap((t, i) =>
        t.seen.flatMap((s) => [
          { where: `topic ${i} key`, data: s.keyBytes },
          { where: `topic ${i} value`, data: s.value },
          { where: `topic ${i} headers`, data: JSON.stringify(s.headers) },
        ]),
      );
      const canaries = [`canary-${token}`, `Canaryname ${token}`, token];
      expect(findCanaries(sources, canaries)).toEqual([]);

      // The scanner can fail: the same bytes plus one message that carries the canary base64'd
      // inside JSON (as an unencrypted payload would) are reported.
      const planted = JSON.stringify({ v: MESSAGE_VERSION, payload: Buffer.from(JSON.stringify({ email, name })).toString('base64') });
      expect(findCanaries([...sources, { where: 'planted', data: planted }], canaries)).not.toEqual([]);
      const plantedKey = findCanaries([...sources, { where: 'planted key', data: Buffer.from(email) }], canaries);
      expect(plantedKey.some((h) => h.startsWith('planted key'))).toBe(true);
    } finally {
      for (const t of taps) await t.consumer.disconnect().catch(() => undefined);
    }
  });
});

describe('a requester reads replies from the moment it starts, without writing the replies topic', () => {
  let sys: System;
  useSystem({ withWorker: false, withDbProcessor: false }, (started) => (sys = started));

  it('a reply produced after start began and before the consumer joined arrives; one produced before does not', async () => {
    const kafka = rawKafka(sys.config, 'reply-offsets');
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const groupId = `test-reply-offsets-${randomUUID()}`;
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
    const marker = randomUUID();
    const got: string[] = [];
    try {
      await producer.send({ topic: TOPICS.dbReplies, messages: [{ key: marker, value: 'before' }] });
      await consumer.connect();
      await consumer.subscribe({ topic: TOPICS.dbReplies, fromBeginning: false });
      await joinAtHighWatermarks(kafka, consumer, groupId, TOPICS.dbReplies, async () => {
        // Offsets are set, the group not yet joined: "latest" would be resolved after this send.
        await producer.send({ topic: TOPICS.dbReplies, messages: [{ key: marker, value: 'in the window' }] });
        await consumer.run({ eachMessage: async ({ message }) => void (message.key?.toString() === marker && got.push(message.value!.toString())) });
      });
      await producer.send({ topic: TOPICS.dbReplies, messages: [{ key: marker, value: 'after' }] });
      await eventually(async () => (got.includes('after') ? true : undefined), 30_000, 'the reply sent after start');
      expect(got.sort()).toEqual(['after', 'in the window']);
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await producer.disconnect().catch(() => undefined);
    }
  });
});
