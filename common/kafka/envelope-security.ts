import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { context, defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, type Context } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { Config } from '../config';
import { parseKeyRing, type KeyRingSpec } from './keyring';
import { MESSAGE_VERSION } from './messages';
import { requestTopic, TOPICS } from './topics';

/**
 * Confidentiality and authenticity of the DB processor's Kafka traffic.
 *
 * - Payloads of requests and results of replies are AES-256-GCM encrypted (`<kid>.<iv>.<tag>.<ct>`),
 *   with the direction, type, correlation id and reply address as additional data, so a ciphertext
 *   cannot be moved to another message.
 * - Message keys are a keyed hash of the email, never the address.
 * - Every message carries `x-msg-id`, `x-ts`, `x-mac-kid` and `x-mac`: HMAC-SHA-256 with a key per
 *   direction over direction, topic, key, value, timestamp, message id and key id. A request MAC
 *   never verifies as a reply and the reverse.
 * - With tracing on, `x-trace-parent` (and `x-trace-state`) carry the sender's W3C trace context and
 *   are covered by the MAC too, so a consumer joins a trace only on an authenticated word. They are
 *   not the kafkajs instrumentation's `traceparent`, which it writes after we sign and which nobody
 *   authenticates: consumers ignore it. A message without trace headers has the MAC it always had.
 */
export type Direction = 'request' | 'reply';

export const SECURITY_HEADERS = { id: 'x-msg-id', ts: 'x-ts', kid: 'x-mac-kid', mac: 'x-mac' } as const;
export const TRACE_HEADERS = { parent: 'x-trace-parent', state: 'x-trace-state' } as const;

/** W3C trace context as it travels (the values of TRACE_HEADERS). */
export interface TraceFields {
  parent?: string;
  state?: string;
}

const w3c = new W3CTraceContextPropagator();

/** The active trace context as headers; none when tracing is off or nothing is being traced. */
export function activeTraceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  w3c.inject(context.active(), carrier, defaultTextMapSetter);
  const out: Record<string, string> = {};
  if (carrier.traceparent) out[TRACE_HEADERS.parent] = carrier.traceparent;
  if (carrier.tracestate) out[TRACE_HEADERS.state] = carrier.tracestate;
  return out;
}

/** The trace a verified message continues; the root context (a new trace) when it carried none. */
export function traceContextOf(verified: Verified): Context {
  if (!verified.ok || !verified.trace) return ROOT_CONTEXT;
  return w3c.extract(ROOT_CONTEXT, { traceparent: verified.trace.parent, tracestate: verified.trace.state }, defaultTextMapGetter);
}

export type RejectReason = 'mac_missing' | 'mac_invalid' | 'unknown_key_id' | 'stale';

export type Verified = { ok: true; messageId: string; timestamp: number; trace?: TraceFields } | { ok: false; reason: RejectReason };

export class EnvelopeSecurityError extends Error {
  override name = 'EnvelopeSecurityError';
}

interface KeyRing {
  currentId: string;
  keys: ReadonlyMap<string, Buffer>;
}

function subkey(secret: string, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), `cfd-auth/kafka/${label}`, 32));
}

function ring(spec: KeyRingSpec, label: string): KeyRing {
  const keys = new Map<string, Buffer>();
  for (const [id, secret] of spec.secrets) keys.set(id, subkey(secret, label));
  return { currentId: spec.currentId, keys };
}

/** Development keyrings derived from the configured development secrets, one label per purpose. */
function devSpec(secret: string, label: string): string {
  return `dev:${subkey(secret, `dev-${label}`).toString('base64url')}`;
}

export interface EnvelopeSecurityOptions {
  requestMacKeys: string;
  replyMacKeys: string;
  payloadKeys: string;
  messageKeySecret: string;
  maxAgeMs: number;
  now?: () => number;
}

const lengthPrefixed = (parts: Array<Buffer | string>): Buffer =>
  Buffer.concat(
    parts.flatMap((p) => {
      const b = Buffer.isBuffer(p) ? p : Buffer.from(p, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      return [len, b];
    }),
  );

const header = (headers: IHeaders | undefined, name: string): string | undefined => {
  const v = headers?.[name];
  const one = Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
  if (one === undefined || one === null) return undefined;
  return Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
};

export class EnvelopeSecurity {
  private readonly mac: Record<Direction, KeyRing>;
  private readonly payload: KeyRing;
  private readonly messageKeyKey: Buffer;
  readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(opts: EnvelopeSecurityOptions) {
    this.mac = {
      request: ring(parseKeyRing('KAFKA_REQUEST_MAC_KEYS', opts.requestMacKeys), 'mac-request'),
      reply: ring(parseKeyRing('KAFKA_REPLY_MAC_KEYS', opts.replyMacKeys), 'mac-reply'),
    };
    this.payload = ring(parseKeyRing('KAFKA_PAYLOAD_KEYS', opts.payloadKeys), 'payload');
    this.messageKeyKey = subkey(opts.messageKeySecret, 'message-key');
    this.maxAgeMs = opts.maxAgeMs;
    this.now = opts.now ?? Date.now;
  }

  /** Keys from config; outside production missing keyrings are derived from the development secrets. */
  static fromConfig(config: Config, now?: () => number): EnvelopeSecurity {
    return new EnvelopeSecurity({
      now,
      requestMacKeys: config.KAFKA_REQUEST_MAC_KEYS || devSpec(config.HMAC_KEY, 'mac-request'),
      replyMacKeys: config.KAFKA_REPLY_MAC_KEYS || devSpec(config.HMAC_KEY, 'mac-reply'),
      payloadKeys: config.KAFKA_PAYLOAD_KEYS || devSpec(config.SEALING_KEY, 'payload'),
      messageKeySecret: config.HMAC_KEY,
      maxAgeMs: config.KAFKA_MESSAGE_MAX_AGE_S * 1000,
    });
  }

  /** Partitioning key for a business key (an email): keyed and not reversible, stable per email. */
  messageKey(businessKey: string): string {
    return createHmac('sha256', this.messageKeyKey).update(businessKey, 'utf8').digest('hex').slice(0, 32);
  }

  private aad(direction: Direction, binding: readonly string[]): Buffer {
    return lengthPrefixed(['cfd-auth/kafka-payload/v1', direction, ...binding]);
  }

  /** Encrypts a JSON value under the current payload key, bound to `binding` (type, correlation id...). */
  encrypt(direction: Direction, binding: readonly string[], value: unknown): string {
    const kid = this.payload.currentId;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.payload.keys.get(kid)!, iv, { authTagLength: 16 });
    cipher.setAAD(this.aad(direction, binding));
    const ct = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return [kid, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  /** Opens what `encrypt` made with the same binding; throws EnvelopeSecurityError otherwise. */
  decrypt(direction: Direction, binding: readonly string[], sealed: unknown): unknown {
    if (typeof sealed !== 'string') throw new EnvelopeSecurityError('payload is not encrypted');
    const parts = sealed.split('.');
    const key = parts.length === 4 ? this.payload.keys.get(parts[0]) : undefined;
    if (!key) throw new EnvelopeSecurityError('payload key id unknown or format invalid');
    const tag = Buffer.from(parts[2], 'base64url');
    if (tag.length !== 16) throw new EnvelopeSecurityError('payload tag has the wrong length');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(parts[1], 'base64url'), { authTagLength: 16 });
      decipher.setAAD(this.aad(direction, binding));
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(Buffer.from(parts[3], 'base64url')), decipher.final()]).toString('utf8');
      return JSON.parse(plain);
    } catch (err) {
      throw new EnvelopeSecurityError('payload does not open with this key and binding', { cause: err });
    }
  }

  private computeMac(key: Buffer, direction: Direction, topic: string, msgKey: Buffer, value: Buffer, ts: string, id: string, kid: string, trace: TraceFields): Buffer {
    // Trace fields only when present: a message without them keeps the MAC of before tracing.
    const traced = trace.parent !== undefined || trace.state !== undefined ? ['trace', trace.parent ?? '', trace.state ?? ''] : [];
    return createHmac('sha256', key)
      .update(lengthPrefixed(['cfd-auth/kafka-mac/v1', direction, topic, msgKey, value, ts, id, kid, ...traced]))
      .digest();
  }

  /**
   * Headers that authenticate one message: a fresh message id, the time, the key id and the MAC,
   * and the trace headers it covers (`traceHeaders`, see activeTraceHeaders).
   */
  sign(direction: Direction, topic: string, key: string | Buffer | null, value: string | Buffer, traceHeaders: Record<string, string> = {}): Record<string, string> {
    const kid = this.mac[direction].currentId;
    const ts = String(this.now());
    const id = randomUUID();
    const k = key === null ? Buffer.alloc(0) : Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8');
    const v = Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
    const trace: TraceFields = { parent: traceHeaders[TRACE_HEADERS.parent], state: traceHeaders[TRACE_HEADERS.state] };
    const mac = this.computeMac(this.mac[direction].keys.get(kid)!, direction, topic, k, v, ts, id, kid, trace);
    return { ...traceHeaders, [SECURITY_HEADERS.id]: id, [SECURITY_HEADERS.ts]: ts, [SECURITY_HEADERS.kid]: kid, [SECURITY_HEADERS.mac]: mac.toString('base64url') };
  }

  /** Checks MAC, key id and freshness. Replays are the consumer's to detect (it holds the seen ids). */
  verify(direction: Direction, topic: string, message: Pick<KafkaMessage, 'key' | 'value' | 'headers'>): Verified {
    const id = header(message.headers, SECURITY_HEADERS.id);
    const ts = header(message.headers, SECURITY_HEADERS.ts);
    const kid = header(message.headers, SECURITY_HEADERS.kid);
    const mac = header(message.headers, SECURITY_HEADERS.mac);
    if (!id || !ts || !kid || !mac) return { ok: false, reason: 'mac_missing' };
    const key = this.mac[direction].keys.get(kid);
    if (!key) return { ok: false, reason: 'unknown_key_id' };
    if (!/^[0-9a-f-]{36}$/.test(id) || !/^\d{1,15}$/.test(ts)) return { ok: false, reason: 'mac_invalid' };
    const parent = header(message.headers, TRACE_HEADERS.parent);
    const state = header(message.headers, TRACE_HEADERS.state);
    const trace: TraceFields | undefined = parent !== undefined || state !== undefined ? { parent, state } : undefined;
    const expected = this.computeMac(key, direction, topic, message.key ?? Buffer.alloc(0), message.value ?? Buffer.alloc(0), ts, id, kid, trace ?? {});
    const given = Buffer.from(mac, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'mac_invalid' };
    // Authentic but outside the window: the seen-id store only remembers the window, so refuse.
    const timestamp = Number(ts);
    if (Math.abs(this.now() - timestamp) > this.maxAgeMs) return { ok: false, reason: 'stale' };
    return trace ? { ok: true, messageId: id, timestamp, trace } : { ok: true, messageId: id, timestamp };
  }

  /** A request ready to send: payload encrypted and bound to its routing, key hashed, MAC headers. */
  requestMessage(
    route: { type: string; correlationId: string; replyTo: string; deadline: number },
    payload: unknown,
    businessKey: string,
  ): { key: string; value: string; headers: Record<string, string> } {
    const sealed = this.encrypt('request', requestBinding(route), payload);
    const value = JSON.stringify({ v: MESSAGE_VERSION, ...route, payload: sealed });
    const key = this.messageKey(businessKey);
    return { key, value, headers: this.sign('request', requestTopic(route.type), key, value, activeTraceHeaders()) };
  }

  openRequestPayload(envelope: { type: string; correlationId: string; replyTo: string; payload: unknown }): unknown {
    return this.decrypt('request', requestBinding(envelope), envelope.payload);
  }

  /** A reply ready to send: result encrypted and bound to its correlation id and addressee. */
  replyMessage(
    route: { correlationId: string; replyTo: string },
    body: { ok: true; result: unknown } | { ok: false; error: { code: string; message: string } },
  ): { key: string; value: string; headers: Record<string, string> } {
    const wire = body.ok ? { ok: true, result: this.encrypt('reply', replyBinding(route), body.result) } : body;
    const value = JSON.stringify({ v: MESSAGE_VERSION, ...route, ...wire });
    return { key: route.replyTo, value, headers: this.sign('reply', TOPICS.dbReplies, route.replyTo, value, activeTraceHeaders()) };
  }

  openReplyResult(reply: { correlationId: string; replyTo: string; result: unknown }): unknown {
    return this.decrypt('reply', replyBinding(reply), reply.result);
  }
}

const requestBinding = (r: { type: string; correlationId: string; replyTo: string }) => [r.type, r.correlationId, r.replyTo];
const replyBinding = (r: { correlationId: string; replyTo: string }) => [r.correlationId, r.replyTo];
