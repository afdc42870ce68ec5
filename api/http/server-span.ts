import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { RequestHandler } from 'express';
import { tracer } from '../../common/tracing';

declare module 'express-serve-static-core' {
  interface Locals {
    /** The request's HTTP server span, with tracing on (recording or not: the sampler decided). */
    span?: Span;
  }
}

/**
 * The HTTP server span of each request, made here rather than by the OpenTelemetry HTTP
 * instrumentation: that one computes a dozen attributes for every request before the sampler is
 * asked, which at the default 5 % sampling was most of what tracing cost a cheap call like /me.
 * Here the sampler decides first; an unsampled request costs one non-recording span, and the
 * attributes are set only on the spans that are kept.
 *
 * The caller's trace context is read through the process's propagator, which for the API ignores it
 * unless TRACE_INCOMING_CONTEXT=follow (common/tracing.ts). The span is the active context of
 * everything after it (AsyncLocalStorage follows the body read into the handlers: the traces test
 * finds the Temporal call of a signup under its POST span), so Redis, Temporal and Kafka spans hang
 * under it. Named `METHOD /route/template` by
 * `routeTemplate`; the path is recorded without its query string, no header is. Mounted only when
 * tracing is on (api/app.ts).
 */
export const serverSpan: RequestHandler = (req, res, next) => {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const span = tracer().startSpan(req.method, { kind: SpanKind.SERVER }, parent);
  res.locals.span = span;
  if (span.isRecording()) {
    span.setAttributes({
      'http.method': req.method,
      'http.target': req.path,
      'http.scheme': req.protocol,
      'net.host.port': req.socket.localPort ?? 0,
      'http.flavor': req.httpVersion,
    });
  }
  // 'close' comes once for every response, after 'finish' when it was sent, alone when the client left.
  res.once('close', () => {
    if (span.isRecording()) {
      span.setAttribute('http.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      if (!res.writableFinished) span.setAttribute('http.aborted', true);
    }
    span.end();
  });
  context.with(trace.setSpan(parent, span), next);
};
