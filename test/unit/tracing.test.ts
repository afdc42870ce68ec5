import { ROOT_CONTEXT, SpanKind, TraceFlags, trace } from '@opentelemetry/api';
import { SamplingDecision, type Sampler } from '@opentelemetry/sdk-trace-base';
import { DEFAULT_TRACE_RATIO, EntrySampler, incomingContextFromEnv, keepsRequest, samplingFromEnv, InjectOnlyPropagator, samplerFromEnv, scrubSql } from '../../common/tracing';

describe('scrubSql (pg span statements)', () => {
  it('replaces every string literal MikroORM inlines, quoted quotes, E-strings and dollar quotes included', () => {
    const sql = `insert into "users" ("email", "name", "password_hash") values ('a.b@example.com', 'O''Brien', E'back\\\\slash \\' quote', 'C:\\', 'after', $$dollar$$, $t$tagged$t$, 42)`;
    const out = scrubSql(sql);
    expect(out).toBe(`insert into "users" ("email", "name", "password_hash") values ('?', '?', '?', '?', '?', '?', '?', 42)`);
    for (const leaked of ['example.com', 'Brien', 'slash', 'after', 'dollar', 'tagged']) expect(out).not.toContain(leaked);
  });

  it('leaves identifiers, placeholders and numbers', () => {
    expect(scrubSql('select "u0".* from "users" as "u0" where "u0"."id" = $1 limit 1')).toBe('select "u0".* from "users" as "u0" where "u0"."id" = $1 limit 1');
  });
});

describe('samplerFromEnv (OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG)', () => {
  const traceId = (n: number) => n.toString(16).padStart(32, '0');
  const decide = (sampler: Sampler, id: string, parent?: { sampled: boolean }) => {
    const ctx = parent
      ? trace.setSpanContext(ROOT_CONTEXT, { traceId: id, spanId: '1'.padStart(16, '0'), traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true })
      : ROOT_CONTEXT;
    return sampler.shouldSample(ctx, id, 'span', SpanKind.SERVER, {}, []).decision === SamplingDecision.RECORD_AND_SAMPLED;
  };
  // Trace ids spread over the id space (the ratio sampler reads the id's low bits).
  const ids = Array.from({ length: 2000 }, (_, i) => traceId(Math.floor((i * 2 ** 32) / 2000) + 1));

  it('keeps about 5 % of new traces by default, and always follows a parent: kept traces stay whole', () => {
    const sampler = samplerFromEnv({});
    const kept = ids.filter((id) => decide(sampler, id)).length / ids.length;
    expect(DEFAULT_TRACE_RATIO).toBe(0.05);
    expect(kept).toBeGreaterThan(0.03);
    expect(kept).toBeLessThan(0.07);
    expect(ids.every((id) => decide(sampler, id, { sampled: true }))).toBe(true);
    expect(ids.some((id) => decide(sampler, id, { sampled: false }))).toBe(false);
  });

  it('takes the ratio from OTEL_TRACES_SAMPLER_ARG and the standard sampler names', () => {
    expect(ids.filter((id) => decide(samplerFromEnv({ OTEL_TRACES_SAMPLER_ARG: '0' }), id))).toHaveLength(0);
    expect(ids.every((id) => decide(samplerFromEnv({ OTEL_TRACES_SAMPLER_ARG: '1' }), id))).toBe(true);
    expect(ids.every((id) => decide(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_always_on' }), id))).toBe(true);
    expect(decide(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'parentbased_always_on' }), ids[0], { sampled: false })).toBe(false);
    expect(decide(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_on' }), ids[0], { sampled: false })).toBe(true);
    expect(ids.some((id) => decide(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' }), id))).toBe(false);
  });

  it('refuses an unknown sampler or a ratio outside [0, 1] at start', () => {
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER "sometimes"/);
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER_ARG: '5' })).toThrow(/between 0 and 1/);
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER_ARG: 'half' })).toThrow(/between 0 and 1/);
  });
});

describe('the entry\'s request decision and its sampler (the API: a request decides; nothing else starts a trace)', () => {
  const id = 'd'.repeat(32);
  const parent = (sampled: boolean) => ({ traceId: id, spanId: 'e'.repeat(16), traceFlags: sampled ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: true });
  const decided = (ctx: typeof ROOT_CONTEXT, kind: SpanKind) => new EntrySampler().shouldSample(ctx, id, 'span', kind).decision;

  it('keeps a request with the configured probability, or as a followed caller decided', () => {
    const draws = Array.from({ length: 1000 }, (_, i) => (i + 0.5) / 1000);
    const kept = (env: NodeJS.ProcessEnv, p?: ReturnType<typeof parent>) => draws.filter((r) => keepsRequest(samplingFromEnv(env), p, () => r)).length;
    expect(kept({})).toBe(50);
    expect(kept({ OTEL_TRACES_SAMPLER_ARG: '0.2' })).toBe(200);
    expect(kept({ OTEL_TRACES_SAMPLER: 'parentbased_always_on' })).toBe(1000);
    expect(kept({ OTEL_TRACES_SAMPLER: 'always_off' })).toBe(0);
    // A caller's decision is followed by the parent-based names only.
    expect(kept({}, parent(true))).toBe(1000);
    expect(kept({ OTEL_TRACES_SAMPLER: 'parentbased_always_on' }, parent(false))).toBe(0);
    expect(kept({ OTEL_TRACES_SAMPLER: 'always_on' }, parent(false))).toBe(1000);
    expect(kept({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.2' }, parent(true))).toBe(200);
    expect(() => samplingFromEnv({ OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER "sometimes"/);
  });

  it('records a request\'s server span (only kept requests get one) and what runs under a sampled span', () => {
    expect(decided(ROOT_CONTEXT, SpanKind.SERVER)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decided(trace.setSpanContext(ROOT_CONTEXT, parent(false)), SpanKind.SERVER)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decided(trace.setSpanContext(ROOT_CONTEXT, parent(true)), SpanKind.CLIENT)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(decided(trace.setSpanContext(ROOT_CONTEXT, parent(false)), SpanKind.INTERNAL)).toBe(SamplingDecision.NOT_RECORD);
  });

  it('records no span that starts without a parent outside a request (what an unsampled request starts)', () => {
    for (const kind of [SpanKind.CLIENT, SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER]) expect(decided(ROOT_CONTEXT, kind)).toBe(SamplingDecision.NOT_RECORD);
  });
});

describe('the entry propagator (TRACE_INCOMING_CONTEXT)', () => {
  const getter = { get: (c: Record<string, string>, k: string) => c[k], keys: (c: Record<string, string>) => Object.keys(c) };
  const setter = { set: (c: Record<string, string>, k: string, v: string) => { c[k] = v; } };
  const traceId = 'a'.repeat(32);

  it('reads no trace context from a caller but writes ours into what it sends', () => {
    const p = new InjectOnlyPropagator();
    const extracted = p.extract(ROOT_CONTEXT, { traceparent: `00-${traceId}-${'b'.repeat(16)}-01` }, getter);
    expect(trace.getSpanContext(extracted)).toBeUndefined();
    const out: Record<string, string> = {};
    p.inject(trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: 'c'.repeat(16), traceFlags: TraceFlags.SAMPLED }), out, setter);
    expect(out.traceparent).toBe(`00-${traceId}-${'c'.repeat(16)}-01`);
  });

  it('ignores callers by default; follow must be asked for; anything else stops the start', () => {
    expect(incomingContextFromEnv({})).toBe('ignore');
    expect(incomingContextFromEnv({ TRACE_INCOMING_CONTEXT: 'follow' })).toBe('follow');
    expect(() => incomingContextFromEnv({ TRACE_INCOMING_CONTEXT: 'yes' })).toThrow(/ignore or follow/);
  });
});

describe('SampledOnlyIORedisInstrumentation (Redis spans only in sampled requests)', () => {
  const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, AlwaysOnSampler, AlwaysOffSampler } = jest.requireActual('@opentelemetry/sdk-trace-base');
  const { AsyncLocalStorageContextManager } = jest.requireActual('@opentelemetry/context-async-hooks');
  const { context } = jest.requireActual('@opentelemetry/api');
  const { IORedisInstrumentation } = jest.requireActual('@opentelemetry/instrumentation-ioredis');
  const { SampledOnlyIORedisInstrumentation } = jest.requireActual('../../common/tracing');

  it('wraps the pinned instrumentation method it patches (an upgrade that drops it fails here)', () => {
    expect(typeof IORedisInstrumentation.prototype._traceSendCommand).toBe('function');
    expect(SampledOnlyIORedisInstrumentation.prototype._traceSendCommand).not.toBe(IORedisInstrumentation.prototype._traceSendCommand);
  });

  it('makes a command span under a recording span, none under a non-recording one or none at all', () => {
    const exporter = new InMemorySpanExporter();
    const provider = (sampler: unknown) => new BasicTracerProvider({ sampler, spanProcessors: [new SimpleSpanProcessor(exporter)] });
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    try {
      const inst = new SampledOnlyIORedisInstrumentation({ enabled: false });
      inst.setTracerProvider(provider(new AlwaysOnSampler()));
      const calls: string[] = [];
      const sent: { resolve: (v: unknown) => void }[] = [];
      // As ioredis does: the reply resolves the command later (the instrumentation ends its span then).
      const original = function (this: unknown, cmd: { name: string; resolve: (v: unknown) => void }) { calls.push(cmd.name); sent.push(cmd); return 'sent'; };
      const send = inst._traceSendCommand(original, '5.0.0');
      const client = { options: { host: '127.0.0.1', port: 6379 } };
      const command = (name: string) => ({ name, args: [], resolve: () => undefined, reject: () => undefined });
      const under = (sampler: unknown, name: string) => {
        const parent = provider(sampler).getTracer('t').startSpan('request');
        context.with(trace.setSpan(context.active(), parent), () => expect(send.call(client, command(name))).toBe('sent'));
        parent.end();
      };
      under(new AlwaysOnSampler(), 'get');
      under(new AlwaysOffSampler(), 'set');
      expect(send.call(client, command('del'))).toBe('sent');
      expect(calls).toEqual(['get', 'set', 'del']);
      for (const cmd of sent) cmd.resolve('OK');
      const spans = exporter.getFinishedSpans().map((s: { name: string }) => s.name);
      expect(spans).toContain('get');
      expect(spans).not.toContain('set');
      expect(spans).not.toContain('del');
    } finally {
      context.disable();
    }
  });
});
