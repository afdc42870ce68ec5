import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { RequestHandler } from 'express';
import { tracer, tracing } from '../../common/tracing';

declare module 'express-serve-static-core' {
  interface Locals {
    /** The request's HTTP server span, when tracing is on and the request was kept. */
    span?: Span;
  }
}

/**
 * The HTTP server span of each request, made here rather than by the OpenTelemetry HTTP
 * instrumentation: that one computes a dozen attributes for every request before the sampler is
 * asked, which at the default 5 % sampling was most of what tracing cost a cheap call like /me.
 * Here the request is decided first (`Tracing.keepsRequest`: the configured ratio, or a followed
 * caller's decision); an unsampled request costs a random number and makes no span at all.
 *
 * The caller's trace context is read through the process's propagator, which for the API ignores it
 * unless TRACE_INCOMING_CONTEXT=follow (common/tracing.ts). A kept request's span is the active context of
 * everything after it (AsyncLocalStorage follows the body read into the handlers: the traces test
 * finds the Temporal call of a signup under its POST span), so Redis, Temporal and Kafka spans hang
 * under it. Named `METHOD /route/template` by
 * `routeTemplate`; the path is recorded without its query string, no header is. Mounted only when
 * tracing is on (api/app.ts).
 */
export const serverSpan: RequestHandler = (req, res, next) => {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  // An unsampled request gets no span and runs in no span context: what it starts (a Temporal call,
  // a Kafka request) gets a fresh unsampled context from the entry sampler, and that travels on.
  // A span, its listener and a context that follows every async step of a cheap request were most
  // of what tracing cost /me.
  if (!tracing()?.keepsRequest(trace.getSpanContext(parent))) return next();
  const span = tracer().startSpan(req.method, { kind: SpanKind.SERVER }, parent);
  res.locals.span = span;
  span.setAttributes({
    'http.method': req.method,
    'http.target': req.path,
    // The scheme this server was spoken to in, from the socket: `req.protocol` asks the TRUST_PROXY
    // check (an address parse per request) for X-Forwarded-Proto, a tenth of what a kept /me's
    // spans cost. A proxy's scheme is the proxy's span.
    'http.scheme': 'encrypted' in req.socket ? 'https' : 'http',
    'net.host.port': req.socket.localPort ?? 0,
    'http.flavor': req.httpVersion,
  });
  // 'close' comes once for every response, after 'finish' when it was sent, alone when the client left.
  res.once('close', () => {
    span.setAttribute('http.status_code', res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    if (!res.writableFinished) span.setAttribute('http.aborted', true);
    span.end();
  });
  context.with(trace.setSpan(parent, span), next);
};
