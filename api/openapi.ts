import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ERRORS, type ErrorCode } from '../common/errors';
import { operationId, type RouteSpec } from './routes/auth.routes';
import { ErrorResponse, JwksResponse } from './schemas';

/** Where the public keys of access tokens are published (at the API's root, as consumers expect). */
export const JWKS_PATH = '/.well-known/jwks.json';

export const API_BASE = '/api/v1/auth';

/** Express path to OpenAPI path: `/sessions/:id` → `/api/v1/auth/sessions/{id}`. */
export function openApiPath(expressPath: string): string {
  return API_BASE + expressPath.replace(/:(\w+)/g, '{$1}');
}

/** Methods whose requests carry state changes: the CSRF guard (403) and the media-type check (415) apply. */
const STATE_CHANGING = new Set(['post', 'put', 'patch', 'delete']);

/**
 * The error codes a route can answer because of its shape, whatever its use-case does: the
 * middleware in api/http decides these (body parsing, CSRF guard, authentication, dependencies),
 * so a new route gets them documented without listing them.
 */
export function shapeErrors(r: RouteSpec): ErrorCode[] {
  const codes: ErrorCode[] = ['INTERNAL', 'UNAVAILABLE'];
  if (r.body) codes.push('VALIDATION_FAILED', 'MALFORMED_JSON', 'PAYLOAD_TOO_LARGE');
  if (r.body && r.method !== 'delete') codes.push('UNSUPPORTED_MEDIA_TYPE');
  if (r.params) codes.push('VALIDATION_FAILED');
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

/** OpenAPI 3.1, built from the same route table and zod schemas the routes parse with. */
export function buildOpenApi(routes: RouteSpec[]) {
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
      responses: {
        ...errorResponses([...shapeErrors(r), ...(r.errors ?? [])]),
        ...Object.fromEntries(
          Object.entries(r.responses).map(([status, resp]) => [
            status,
            {
              description: resp.description,
              ...(resp.headers ? { headers: Object.fromEntries(Object.entries(resp.headers).map(([name, h]) => [name, { ...h, schema: { type: 'string' } }])) } : {}),
              ...(resp.links ? { links: resp.links } : {}),
              ...(resp.schema ? { content: { 'application/json': { schema: resp.schema } } } : {}),
            } satisfies ResponseConfig,
          ]),
        ),
      },
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
        '(see ErrorResponse). A known path answers a method it does not declare with 405 and an `Allow` header (components.responses.MethodNotAllowed).',
    },
    servers: [{ url: '/' }],
  });
}
