import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ERRORS, type ErrorCode } from '../common/errors';
import type { AdminRouteSpec } from './admin/admin.routes';
import { operationId, type RouteSpec, type SuccessResponse } from './routes/auth.routes';
import { ErrorResponse, JwksResponse } from './schemas';

/** Where the public keys of access tokens are published (at the API's root, as consumers expect). */
export const JWKS_PATH = '/.well-known/jwks.json';

export const API_BASE = '/api/v1/auth';
/** The admin API (api/admin): operators' bearer tokens only. */
export const ADMIN_BASE = '/api/v1/admin';

/** Express path to OpenAPI path: `/sessions/:id` → `/api/v1/auth/sessions/{id}`. */
export function openApiPath(expressPath: string, base = API_BASE): string {
  return base + expressPath.replace(/:(\w+)/g, '{$1}');
}

/** Methods whose requests carry state changes: the CSRF guard (403) and the media-type check (415) apply. */
const STATE_CHANGING = new Set(['post', 'put', 'patch', 'delete']);

/**
 * The error codes a route can answer because of its shape, whatever its use-case does: the
 * middleware in api/http decides these (body parsing, CSRF guard, authentication, dependencies),
 * so a new route gets them documented without listing them.
 */
export function shapeErrors(r: Pick<RouteSpec, 'method' | 'body' | 'params' | 'auth' | 'session' | 'recentAuth'> & { query?: unknown; admin?: boolean }): ErrorCode[] {
  const codes: ErrorCode[] = ['INTERNAL', 'UNAVAILABLE'];
  if (r.body) codes.push('VALIDATION_FAILED', 'MALFORMED_JSON', 'PAYLOAD_TOO_LARGE');
  if (r.body && r.method !== 'delete') codes.push('UNSUPPORTED_MEDIA_TYPE');
  if (r.params || r.query) codes.push('VALIDATION_FAILED');
  // An admin call with a body of another media type than JSON is refused by the CSRF guard.
  if (r.admin && r.method === 'post') codes.push('UNSUPPORTED_MEDIA_TYPE');
  if (r.admin) codes.push('UNAUTHENTICATED', 'FORBIDDEN');
  if (STATE_CHANGING.has(r.method)) codes.push('FORBIDDEN_ORIGIN');
  if (r.auth) codes.push('UNAUTHENTICATED');
  if (r.auth && r.session !== 'partial') codes.push('MFA_REQUIRED');
  if (r.recentAuth) codes.push('REAUTH_REQUIRED');
  return codes;
}

const retryAfter = {
  description: 'Seconds to wait before trying again.',
  required: true,
  schema: { type: 'integer' as const, minimum: 1 },
};

type Headers = Record<string, { description: string; required: boolean; schema: { type: 'string' | 'integer'; minimum?: number } }>;

/** Headers every error answer of a status carries. */
const ERROR_HEADERS: Record<number, Headers> = {
  405: { Allow: { description: 'The methods this path answers.', required: true, schema: { type: 'string' } } },
  429: { 'Retry-After': retryAfter },
  503: { 'Retry-After': retryAfter },
};

/** One response per status: the error body, its `code` narrowed to the codes of that status. */
function errorResponse(codes: ErrorCode[]): ResponseConfig & { headers?: Headers } {
  const status = ERRORS[codes[0]!].status;
  return {
    description: codes.map((c) => `${c}: ${ERRORS[c].message}`).join(' | '),
    ...(ERROR_HEADERS[status] ? { headers: ERROR_HEADERS[status] } : {}),
    content: {
      'application/json': {
        schema: ErrorResponse.and(z.object({ code: z.enum(codes) })),
      },
    },
  };
}

function errorResponses(codes: Iterable<ErrorCode>): Record<string, ResponseConfig> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = ERRORS[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries([...byStatus].map(([status, group]) => [String(status), errorResponse(group)]));
}

function successResponses(responses: Record<number, SuccessResponse>): Record<string, ResponseConfig> {
  return Object.fromEntries(
    Object.entries(responses).map(([status, resp]) => [
      status,
      {
        description: resp.description,
        ...(resp.headers ? { headers: Object.fromEntries(Object.entries(resp.headers).map(([name, h]) => [name, { ...h, schema: { type: 'string' } }])) } : {}),
        ...(resp.links ? { links: resp.links } : {}),
        ...(resp.schema ? { content: { 'application/json': { schema: resp.schema } } } : {}),
      } satisfies ResponseConfig,
    ]),
  );
}

/** OpenAPI 3.1, built from the same route tables and zod schemas the routes parse with. */
export function buildOpenApi(routes: RouteSpec[], admin: AdminRouteSpec[] = []) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'cookieAuth', {
    type: 'apiKey',
    in: 'cookie',
    name: 'auth_token',
    description: 'Named `__Host-auth_token` in production (Secure, Path=/, no Domain); `auth_token` elsewhere. A `Bearer` Authorization header with the same token also works.',
  });
  const methodNotAllowed = errorResponse(['METHOD_NOT_ALLOWED']);
  // The component registry is typed against OpenAPI 3.0 objects; this response is plain JSON either way.
  registry.registerComponent('responses', 'MethodNotAllowed', {
    ...(methodNotAllowed as object),
    description: 'Every path of this API answers a method it does not declare (TRACE, PUT, ...) with 405 and an Allow header, before reading the body.',
  } as Parameters<typeof registry.registerComponent<'responses'>>[2]);
  for (const r of routes) {
    registry.registerPath({
      method: r.method,
      path: openApiPath(r.path),
      operationId: operationId(r),
      summary: r.summary,
      ...(r.auth ? { security: [{ cookieAuth: [] }] } : {}),
      request: {
        ...(r.params ? { params: r.params } : {}),
        ...(r.body ? { body: { required: !r.bodyOptional, content: { 'application/json': { schema: r.body } } } } : {}),
      },
      responses: { ...errorResponses([...shapeErrors(r), ...(r.errors ?? [])]), ...successResponses(r.responses) },
    });
  }
  if (admin.length > 0) {
    registry.registerComponent('securitySchemes', 'adminBearer', {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: 'An admin token from `npm run admin -- token --name <who>` (ES256, audience `cfd-admin`, `role: admin`). Cookies are never read here.',
    });
  }
  for (const r of admin) {
    const errors = errorResponses([...shapeErrors({ ...r, admin: true }), ...(r.errors ?? [])]);
    // The 401 says how to authenticate (RFC 6750).
    errors['401'] = { ...errors['401']!, headers: { 'WWW-Authenticate': { description: '`Bearer realm="cfd-admin"`, with `error="invalid_token"` when a token was sent.', required: true, schema: { type: 'string' } } } } as ResponseConfig;
    registry.registerPath({
      method: r.method,
      path: openApiPath(r.path, ADMIN_BASE),
      operationId: operationId({ method: r.method, path: `/admin${r.path}` }),
      summary: r.summary,
      security: [{ adminBearer: [] }],
      request: { ...(r.params ? { params: r.params } : {}), ...(r.query ? { query: r.query as z.ZodObject } : {}) },
      responses: { ...errors, ...successResponses(r.responses) },
    });
  }
  registry.registerPath({
    method: 'get',
    path: JWKS_PATH,
    operationId: 'getJwks',
    summary: 'The public keys that verify access tokens (POST /api/v1/auth/token): a key appears here before it signs and stays until its last token has expired.',
    responses: {
      ...errorResponses(['INTERNAL', 'UNAVAILABLE']),
      200: {
        description: 'The published keys (JWK Set, RFC 7517)',
        headers: { 'Cache-Control': { description: '`public, max-age=N`: N is a quarter of the lead time with which a new key is published before it signs.', required: true, schema: { type: 'string' } } },
        content: { 'application/json': { schema: JwksResponse } },
      },
    },
  });
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'CFD Broker Auth API',
      version: '1.0.0',
      description:
        'Signup with an emailed code, sessions, and account sessions management. Every error answer is `{ code, message }` ' +
        '(see ErrorResponse). A known path answers a method it does not declare with 405 and an `Allow` header (components.responses.MethodNotAllowed). ' +
        'The admin API (/api/v1/admin, when ADMIN_API is on) takes operators\' bearer tokens only (adminBearer), never cookies.',
    },
    servers: [{ url: '/' }],
  });
}
