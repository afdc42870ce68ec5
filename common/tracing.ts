import { context, SpanKind, trace, TraceFlags, type Context, type SpanContext, type TextMapGetter, type TextMapPropagator, type TextMapSetter, type Tracer } from '@opentelemetry/api';
import { suppressTracing, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { KafkaJsInstrumentation } from '@opentelemetry/instrumentation-kafkajs';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { Resource } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  SamplingDecision,
  type Sampler,
  type SamplingResult,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { applyDotenv } from './env-file';
import { DEFAULT_TRACE_RATIO, TRACE_INCOMING, TRACE_SAMPLERS, type TraceSamplerName } from './trace-settings';

/**
 * OpenTelemetry traces of one process, exported over OTLP/HTTP in protobuf to
 * OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://127.0.0.1:4318; the exporter appends /v1/traces).
 * Protobuf, not JSON: encoding the kept requests' spans as JSON was a visible part of what tracing
 * cost the API (bench/README). Without an endpoint tracing is off and costs nothing beyond no-op
 * calls. `npm start` points it at the local Jaeger.
 *
 * It must run before pg, ioredis and kafkajs are first required (the instrumentations
 * patch modules as they load): each entry imports its `tracing.ts` first.
 *
 * Sampled by the standard `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, read here (not left to
 * the SDK) so the default is ours: `parentbased_traceidratio` at 0.05. A request entering the API is
 * kept with that probability, and everything it causes (workflow, activities, Kafka, DB processor)
 * follows its decision through the propagated trace flags, so kept traces are whole. `npm start`,
 * compose and the tests set `parentbased_always_on` to see every request.
 *
 * No HTTP or Express instrumentation: Express's made a span per middleware layer, HTTP's computed a
 * dozen attributes per request before the sampler was asked; together most of the cost of tracing a
 * cheap call like /me. The API makes its server spans itself (api/http/server-span.ts), the worker
 * and the DB processor answer only probes over HTTP.
 *
 * No personal data in attributes: HTTP spans keep the path without its query string and record no
 * headers (cookies never), Redis spans name the command only (keys hold hashes of emails, but the
 * rule is simpler without them) and exist only in sampled requests, pg spans keep the statement with its string literals scrubbed
 * (MikroORM inlines values) and never the bound values.
 */
export interface Tracing {
  service: string;
  resource: Resource;
  /** Shared with the Temporal worker's workflow span sink (workflow spans are made in the sandbox). */
  spanProcessor: SpanProcessor;
  /** The entry's decision for a request with this parent (none: the caller's context is not read or absent). */
  keepsRequest(parent: SpanContext | undefined): boolean;
  shutdown(): Promise<void>;
}

let active: Tracing | undefined;

/** The tracing of this process, when it is on. */
export function tracing(): Tracing | undefined {
  return active;
}

/** Our own spans (Kafka request/reply); a no-op tracer when tracing is off. */
export function tracer(): Tracer {
  return trace.getTracer('cfd-auth');
}

/**
 * Runs `fn` with tracing suppressed: background polling (the outbox relay's turn every second, the
 * gauges' queries at each scrape) would otherwise start a root trace per turn and bury the requests.
 */
export function untraced<T>(fn: () => T): T {
  return context.with(suppressTracing(context.active()), fn);
}

/** A SQL statement without its string literals ('…', E'…', $tag$…$tag$): each becomes '?'. */
export function scrubSql(sql: string): string {
  // Backslash escapes exist only in E'…' (standard_conforming_strings, and pg's escapeLiteral uses E'' for them).
  return sql.replace(/\$([A-Za-z_]*)\$[\s\S]*?\$\1\$|\b[Ee]'(?:[^'\\]|''|\\[\s\S])*'|'(?:[^']|'')*'/g, "'?'");
}

export { DEFAULT_TRACE_RATIO };

/**
 * What `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` say (the specification's six names):
 * whether a parent's decision is followed (the `parentbased_*` names; at the API, a caller is a
 * parent only with TRACE_INCOMING_CONTEXT=follow), and the probability of keeping a trace otherwise.
 * An unknown name or a ratio outside [0, 1] throws: the process stops at start.
 */
export interface Sampling {
  followsParent: boolean;
  ratio: number;
}

export function samplingFromEnv(env: NodeJS.ProcessEnv): Sampling {
  const name = (env.OTEL_TRACES_SAMPLER?.trim() || 'parentbased_traceidratio') as TraceSamplerName;
  if (!TRACE_SAMPLERS.includes(name)) throw new Error(`OTEL_TRACES_SAMPLER "${name}" is not one of ${TRACE_SAMPLERS.join(', ')}`);
  const followsParent = name.startsWith('parentbased_');
  if (name.endsWith('always_on')) return { followsParent, ratio: 1 };
  if (name.endsWith('always_off')) return { followsParent, ratio: 0 };
  const argText = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const ratio = argText ? Number(argText) : DEFAULT_TRACE_RATIO;
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) throw new Error(`OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1, got "${argText}"`);
  return { followsParent, ratio };
}

/** The sampler of the worker and the DB processor (the API's is EntrySampler). */
export function samplerFromEnv(env: NodeJS.ProcessEnv): Sampler {
  return samplerOf(samplingFromEnv(env));
}

function samplerOf({ followsParent, ratio }: Sampling): Sampler {
  const root = ratio >= 1 ? new AlwaysOnSampler() : ratio <= 0 ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(ratio);
  return followsParent ? new ParentBasedSampler({ root }) : root;
}

/** Whether a request is kept: its caller's decision when that is followed, otherwise the ratio. */
export function keepsRequest(sampling: Sampling, parent: SpanContext | undefined, random: () => number = Math.random): boolean {
  if (parent && sampling.followsParent) return (parent.traceFlags & TraceFlags.SAMPLED) !== 0;
  return sampling.ratio >= 1 || random() < sampling.ratio;
}

/**
 * The sampler of the entry (the API). The request is decided before its server span exists
 * (`Tracing.keepsRequest`, asked by api/http/server-span.ts), and only a kept request gets one, so
 * a server span is always recorded; a span under a parent follows the parent; any other span that
 * starts without a parent (what an unsampled request starts: it runs in no span context) is not
 * recorded. Such a span still has fresh ids and the "not sampled" flag, and the Temporal and Kafka
 * headers carry that on, so the workflow, its activities and the DB processor record nothing either,
 * and no orphan trace starts halfway down a request. Spans started with tracing suppressed
 * (background work) are not asked: they carry no context at all.
 */
export class EntrySampler implements Sampler {
  shouldSample(ctx: Context, _traceId: string, _name: string, kind: SpanKind): SamplingResult {
    if (kind === SpanKind.SERVER) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    const parent = trace.getSpanContext(ctx);
    return { decision: parent && parent.traceFlags & TraceFlags.SAMPLED ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
  }
  toString(): string {
    return 'EntrySampler';
  }
}

/**
 * The propagator of a process that callers on the internet reach (the API): it writes trace context
 * into what it sends (Temporal headers, Kafka messages) but reads none from what it receives, so a
 * caller can neither pick our trace ids nor force every one of its requests to be sampled (the full
 * cost of tracing, on demand). `TRACE_INCOMING_CONTEXT=follow` trusts callers (behind a gateway that
 * starts the traces).
 */
export class InjectOnlyPropagator implements TextMapPropagator {
  private readonly inner = new W3CTraceContextPropagator();
  inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
    this.inner.inject(ctx, carrier, setter);
  }
  extract(ctx: Context, _carrier: unknown, _getter: TextMapGetter): Context {
    return ctx;
  }
  fields(): string[] {
    return this.inner.fields();
  }
}

export function incomingContextFromEnv(env: NodeJS.ProcessEnv): 'ignore' | 'follow' {
  const v = env.TRACE_INCOMING_CONTEXT?.trim() || 'ignore';
  if (!(TRACE_INCOMING as readonly string[]).includes(v)) throw new Error(`TRACE_INCOMING_CONTEXT must be ${TRACE_INCOMING.join(' or ')}, got "${v}"`);
  return v as (typeof TRACE_INCOMING)[number];
}

type SendCommandTracer = { _traceSendCommand(original: (...args: unknown[]) => unknown, moduleVersion?: string): (...args: unknown[]) => unknown };
const stockTraceSendCommand = (IORedisInstrumentation.prototype as unknown as Partial<SendCommandTracer>)._traceSendCommand;

/**
 * The ioredis instrumentation, with a span per command only inside a span that records (a request
 * the sampler kept). Its own `requireParentSpan` counts any parent, and at the default 5 % sampling
 * nearly every request has a non-recording one: each command made a span, its attributes and two
 * closures for nothing. Patches the one (private) method that wraps `sendCommand`; the package is
 * pinned, and a unit test fails if the method goes away (the stock behaviour then stays).
 */
export class SampledOnlyIORedisInstrumentation extends IORedisInstrumentation {}
if (typeof stockTraceSendCommand === 'function') {
  (SampledOnlyIORedisInstrumentation.prototype as unknown as SendCommandTracer)._traceSendCommand = function (this: IORedisInstrumentation, original, moduleVersion) {
    const traced = stockTraceSendCommand.call(this, original, moduleVersion);
    return function (this: unknown, ...args: unknown[]) {
      return (trace.getActiveSpan()?.isRecording() ? traced : original).apply(this, args);
    };
  };
}

/**
 * `entry`: this process answers callers from outside (the API): their trace context is ignored
 * unless TRACE_INCOMING_CONTEXT=follow. The worker and the DB processor follow the context our own
 * processes send them (Temporal headers, the MAC-covered Kafka headers).
 */
export function startTracing(service: string, env: NodeJS.ProcessEnv = process.env, opts: { entry?: boolean } = {}): Tracing | undefined {
  if (active) return active;
  // Before loadConfig runs: the checkout's .env counts here as it does for the config.
  if (env === process.env) applyDotenv();
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!endpoint) return undefined;
  const sampling = samplingFromEnv(env);
  const sampler = opts.entry ? new EntrySampler() : samplerOf(sampling);
  const textMapPropagator = opts.entry && incomingContextFromEnv(env) === 'ignore' ? new InjectOnlyPropagator() : new W3CTraceContextPropagator();
  const resource = new Resource({ [ATTR_SERVICE_NAME]: service });
  const spanProcessor = new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, '')}/v1/traces` }));
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    sampler,
    textMapPropagator,
    spanProcessors: [spanProcessor],
    instrumentations: [
      // MikroORM sends its statements with the values inlined: string literals (emails, names,
      // password hashes) become '?' before the statement is recorded.
      new PgInstrumentation({
        enhancedDatabaseReporting: false,
        // SQL only inside a trace (a request's): pool and background queries start none of their own.
        requireParentSpan: true,
        requestHook: (span, { query }) => span.setAttribute('db.statement', scrubSql(query.text)),
      }),
      new SampledOnlyIORedisInstrumentation({ dbStatementSerializer: (command: string) => command }),
      new KafkaJsInstrumentation(),
    ],
  });
  sdk.start();
  active = {
    service,
    resource,
    spanProcessor,
    keepsRequest: (parent) => keepsRequest(sampling, parent),
    shutdown: async () => {
      active = undefined;
      await sdk.shutdown().catch(() => undefined);
    },
  };
  return active;
}

/** Flushes and stops tracing (a no-op when it is off). */
export async function shutdownTracing(): Promise<void> {
  await active?.shutdown();
}
