import { randomUUID } from 'node:crypto';
import { Router, type ErrorRequestHandler, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { ZodError } from 'zod';
import { AppError, ERRORS } from '../../common/errors';
import type { Logger } from '../../common/logger';
import { metrics } from '../../common/metrics';
import type { RequestContext } from '../use-cases/context';
import type { AuditTrail } from '../audit/audit-trail';

declare module 'express-serve-static-core' {
  interface Locals {
    ctx: RequestContext;
    /** The route template that answered (`/api/v1/auth/sessions/:sid`), for metrics. */
    route?: string;
    /** The handlers routeIndex's method check found for the request, until its dispatch runs them. */
    handlers?: RequestHandler[];
    methodChecked?: boolean;
  }
}

/**
 * Names the route template of the handlers after it (the raw path would put ids in a label), for
 * metrics and, with tracing on, for the HTTP server span (`POST /api/v1/auth/signup`, a Jaeger operation).
 */
export function routeTemplate(template: string): RequestHandler {
  return (req, res, next) => {
    res.locals.route = template;
    const server = res.locals.span;
    if (server?.isRecording()) {
      server.updateName(`${req.method} ${template}`);
      server.setAttribute('http.route', template);
    }
    next();
  };
}

/**
 * Request duration by route template, method and status, observed when the answer is sent. A
 * request no route matched counts as route "unmatched", so probing random paths adds no series.
 */
export const httpMetrics: RequestHandler = (req, res, next) => {
  const end = metrics.httpRequestDuration.startTimer();
  res.once('finish', () => {
    const route = res.locals.route ?? (req.route && !req.baseUrl ? String(req.route.path) : 'unmatched');
    end({ route, method: KNOWN_METHODS.has(req.method) ? req.method : 'OTHER', status: String(res.statusCode) });
  });
  next();
};

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** A request id on every log line: the caller's when it is sane, a new one otherwise. */
export function requestContext(logger: Logger, trail: AuditTrail): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('x-request-id', requestId);
    // With tracing on: the request id on the HTTP server span (a Jaeger tag search) and the trace id
    // on the request's log lines (from a log line to its trace).
    const server = res.locals.span;
    const traceId = server?.isRecording() ? server.spanContext().traceId : undefined;
    if (traceId) server!.setAttribute('cfd.request_id', requestId);
    // The request's logger is made when something logs (most requests log nothing).
    let requestLogger: Logger | undefined;
    res.locals.ctx = {
      requestId,
      ip: req.ip ?? req.socket.remoteAddress ?? 'unknown',
      userAgent: req.get('user-agent')?.slice(0, 256),
      get logger() {
        return (requestLogger ??= logger.child(traceId ? { requestId, traceId } : { requestId }));
      },
      trail,
    };
    next();
  };
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * 405 with an Allow header for a known path and a method it does not declare (TRACE, PUT, ...),
 * before CSRF checks and body parsing, so the answer never depends on the body. HEAD follows GET
 * (Express serves it) and OPTIONS is the CORS preflight. `routes`: Express path → declared methods.
 */
export function methodNotAllowed(routes: Iterable<{ path: string; method: string }>): Router {
  const allowed = new Map<string, Set<string>>();
  for (const r of routes) {
    const methods = allowed.get(r.path) ?? new Set(['OPTIONS']);
    methods.add(r.method.toUpperCase());
    if (r.method.toUpperCase() === 'GET') methods.add('HEAD');
    allowed.set(r.path, methods);
  }
  const router = Router();
  // A literal path wins over a parameter one that matches it too (`/passkeys/register` over `/passkeys/:id`).
  const literalFirst = [...allowed].sort(([a], [b]) => Number(a.includes(':')) - Number(b.includes(':')));
  for (const [path, methods] of literalFirst) {
    const allow = [...methods].sort().join(', ');
    router.all(path, (req, res, next) => {
      if (res.locals.methodChecked) return next();
      res.locals.methodChecked = true;
      res.locals.route = req.baseUrl + path;
      if (methods.has(req.method)) return next();
      res.setHeader('allow', allow);
      next(new AppError('METHOD_NOT_ALLOWED'));
    });
  }
  return router;
}

export interface IndexedRoute {
  /** Express path, relative to where the index is mounted. */
  path: string;
  method: string;
  /** What Express would run for it: the route's middlewares and its handler. */
  handlers: RequestHandler[];
}

/** A path without parameters, as Express matches it: any case, one optional trailing slash. */
const literalKey = (path: string) => {
  const lower = path.toLowerCase();
  return lower.length > 1 && lower.endsWith('/') ? lower.slice(0, -1) : lower;
};

/**
 * Runs a route's handlers as Express's router does: in turn, each calling next; a thrown error or a
 * rejected promise goes to `done` as an error, the end of the list to `done()`.
 */
function runHandlers(handlers: readonly RequestHandler[], req: Request, res: Response, done: NextFunction): void {
  let i = 0;
  const next = (err?: unknown): void => {
    if (err !== undefined && err !== null) return done(err);
    const handler = handlers[i++];
    if (!handler) return done();
    try {
      const result: unknown = handler(req, res, next);
      if (result instanceof Promise) result.then(undefined, (e: unknown) => done(e ?? new Error('Rejected promise')));
    } catch (e) {
      done(e);
    }
  };
  next();
}

/**
 * The routes of one base path, found in one lookup: nearly every path has no parameters, and Express
 * would try each route in turn, twice (the 405 check, then the router), for every request; on `/me`
 * that walk was a tenth of the API's CPU. `methodCheck` replaces methodNotAllowed for them (same
 * answers, same place: before CSRF checks and body parsing) and notes the route; `dispatch` later
 * runs its handlers. Paths with parameters stay with Express: `methodCheck` hands them to
 * methodNotAllowed, and `router` serves them.
 */
export function routeIndex(routes: readonly IndexedRoute[]): { methodCheck: RequestHandler; dispatch: RequestHandler; router: Router } {
  interface Entry { path: string; allow: string; byMethod: Map<string, RequestHandler[]> }
  const literal = new Map<string, Entry>();
  const withParams: IndexedRoute[] = [];
  for (const r of routes) {
    if (/[:*?(){}]/.test(r.path)) {
      withParams.push(r);
      continue;
    }
    const key = literalKey(r.path);
    const entry = literal.get(key) ?? { path: r.path, allow: '', byMethod: new Map<string, RequestHandler[]>() };
    entry.byMethod.set(r.method.toUpperCase(), r.handlers);
    literal.set(key, entry);
  }
  for (const entry of literal.values()) {
    // HEAD follows GET (Express serves it, and Node sends no body) and OPTIONS is the CORS preflight.
    if (entry.byMethod.has('GET')) entry.byMethod.set('HEAD', entry.byMethod.get('GET')!);
    entry.allow = [...new Set([...entry.byMethod.keys(), 'OPTIONS'])].sort().join(', ');
  }
  const paramCheck = methodNotAllowed(withParams);
  const router = Router();
  for (const r of withParams) router[r.method as 'get' | 'post' | 'delete'](r.path, ...r.handlers);

  const methodCheck: RequestHandler = (req, res, next) => {
    const entry = literal.get(literalKey(req.path));
    if (!entry) return paramCheck(req, res, next);
    res.locals.methodChecked = true;
    res.locals.route = req.baseUrl + entry.path;
    const handlers = entry.byMethod.get(req.method);
    if (!handlers) {
      res.setHeader('allow', entry.allow);
      return next(new AppError('METHOD_NOT_ALLOWED'));
    }
    res.locals.handlers = handlers;
    next();
  };
  const dispatch: RequestHandler = (req, res, next) => {
    const handlers = res.locals.handlers;
    if (!handlers) return next();
    res.locals.handlers = undefined;
    runHandlers(handlers, req, res, next);
  };
  return { methodCheck, dispatch, router };
}

/**
 * Auth answers carry cookies, user data and one-time outcomes: no browser or proxy may keep them
 * (`Pragma` for HTTP/1.0 caches). Set before any handler runs, so error answers have it too.
 */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('cache-control', 'no-store');
  res.setHeader('pragma', 'no-cache');
  next();
};

/**
 * A middleware that only sets fixed response headers (helmet's, with static options), run once at
 * start against a recording response: each request then gets the same headers from one loop instead
 * of a dozen nested middlewares. Refuses a middleware that reads the request or does not call next
 * at once (its headers would not be fixed). Header removals are not replayed: helmet's only one is
 * X-Powered-By, which the app never sets (`app.disable('x-powered-by')`).
 */
export function fixedHeaders(middleware: RequestHandler): RequestHandler {
  const headers: [string, string][] = [];
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) => void headers.push([name, String(value)]),
    removeHeader: () => undefined,
  } as unknown as Response;
  const request = new Proxy({}, { get: (_t, key) => { throw new Error(`fixedHeaders: the middleware reads req.${String(key)}`); } }) as Request;
  let nexted = false;
  middleware(request, recorder, (err?: unknown) => {
    if (err) throw err;
    nexted = true;
  });
  if (!nexted) throw new Error('fixedHeaders: the middleware did not call next synchronously');
  return (_req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}

/** True when the request carries no body bytes: no body at all, or Content-Length: 0. */
function hasEmptyBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return false;
  const length = req.headers['content-length'];
  return length === undefined || length === '0';
}

/**
 * CSRF defence: a browser request from a foreign origin is refused; requests without Origin
 * (non-browser clients) pass. A body, when there is one, must be JSON (which a cross-site form
 * cannot send): any other media type is 415. A request without body bytes has no media type to
 * check; routes that need a body refuse it as a validation error.
 */
export function csrfGuard(allowedOrigins: readonly string[]): RequestHandler {
  const allowed = new Set(allowedOrigins);
  return (req, _res, next) => {
    if (!STATE_CHANGING.has(req.method)) return next();
    const origin = req.get('origin');
    if (origin !== undefined && !allowed.has(origin)) return next(new AppError('FORBIDDEN_ORIGIN'));
    if (req.method !== 'DELETE' && !hasEmptyBody(req) && !req.is('application/json')) return next(new AppError('UNSUPPORTED_MEDIA_TYPE'));
    next();
  };
}

function hasForbiddenKey(value: unknown, depth = 0): boolean {
  if (depth > 32 || value === null || typeof value !== 'object') return false;
  for (const key of Object.keys(value)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') return true;
    if (hasForbiddenKey((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

/** Bodies must be JSON objects without prototype-polluting keys. */
export const requireObjectBody: RequestHandler = (req, _res, next) => {
  if (!STATE_CHANGING.has(req.method) || req.method === 'DELETE') return next();
  // No body bytes: an empty object, which each route's schema then judges.
  if (req.body === undefined && hasEmptyBody(req)) req.body = {};
  const body: unknown = req.body;
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    return next(new AppError('VALIDATION_FAILED', 'The request body must be a JSON object.'));
  }
  if (hasForbiddenKey(body)) return next(new AppError('VALIDATION_FAILED', 'The request body contains a forbidden key.'));
  next();
};

export const notFound: RequestHandler = (_req, _res, next) => next(new AppError('NOT_FOUND'));

function clientErrorStatus(err: unknown): number | undefined {
  const e = err as { status?: unknown; statusCode?: unknown };
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  return status !== undefined && status >= 400 && status < 500 ? status : undefined;
}

/** The one place errors become HTTP: `{ code, message }`, never internals in a 5xx. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const log = res.locals.ctx?.logger ?? logger;
    let appErr: AppError;
    if (err instanceof AppError) {
      appErr = err;
    } else if (err instanceof ZodError) {
      const errors = err.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
      appErr = new AppError('VALIDATION_FAILED', ERRORS.VALIDATION_FAILED.message, { errors });
    } else if (typeof (err as { type?: string })?.type === 'string' && typeof (err as { status?: number }).status === 'number') {
      // body-parser's errors
      const type = (err as { type: string }).type;
      appErr =
        type === 'entity.too.large'
          ? new AppError('PAYLOAD_TOO_LARGE')
          : type === 'entity.parse.failed'
            ? new AppError('MALFORMED_JSON')
            : type === 'encoding.unsupported' || type === 'charset.unsupported'
              ? new AppError('UNSUPPORTED_MEDIA_TYPE')
              : new AppError('VALIDATION_FAILED', 'The request body could not be read.');
    } else if (clientErrorStatus(err)) {
      // Other 4xx errors of Express and body-parser (an undecodable path parameter, a body whose
      // content-encoding does not match): the client's fault, never a 500.
      const status = clientErrorStatus(err);
      appErr = status === 413 ? new AppError('PAYLOAD_TOO_LARGE') : status === 415 ? new AppError('UNSUPPORTED_MEDIA_TYPE') : new AppError('VALIDATION_FAILED', 'The request could not be read.');
    } else {
      // A dependency that is down arrives here as UNAVAILABLE from the module that called it
      // (session store, rate limits, Kafka requester, Temporal calls); anything else is a bug.
      appErr = new AppError('INTERNAL', undefined, {}, { cause: err });
    }
    if (appErr.status >= 500) {
      const cause = (appErr.cause ?? err) as { name?: string; message?: string };
      log.error({ code: appErr.code, path: req.path, cause: { name: cause?.name, message: cause?.message }, ...appErr.details }, 'request failed');
    }
    // Every 429 says when to come back (the OpenAPI document promises it); a locked code after the resend cooldown.
    if (appErr.status === 429) res.setHeader('retry-after', String(appErr.details.retryAfterSeconds ?? 60));
    if (appErr.code === 'RATE_LIMITED') {
      const { userId, emailHash } = res.locals.ctx?.audit ?? {};
      log.info({ event: 'rate_limited', ip: res.locals.ctx?.ip, path: req.path, scope: String(appErr.cause ?? ''), userId, emailHash }, 'rate limited');
      const ctx = res.locals.ctx as RequestContext | undefined;
      ctx?.trail.record(ctx, { action: 'rate_limited', actor: userId ? 'user' : 'anonymous', userId: userId ?? null, outcome: 'refused' });
    }
    // A dependency that failed is usually back within seconds: tell clients when to try again.
    if (appErr.code === 'UNAVAILABLE') res.setHeader('retry-after', '5');
    if (res.headersSent) return;
    res.status(appErr.status).json(appErr.toBody());
  };
}
