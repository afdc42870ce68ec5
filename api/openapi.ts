import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { RouteSpec } from './routes/auth.routes';

export const API_BASE = '/api/v1/auth';

/** OpenAPI 3.1, built from the same route table and zod schemas the routes parse with. */
export function buildOpenApi(routes: RouteSpec[]) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'cookieAuth', {
    type: 'apiKey',
    in: 'cookie',
    name: 'auth_token',
    description: 'Named `__Host-auth_token` in production (Secure, Path=/, no Domain); `auth_token` elsewhere. A `Bearer` Authorization header with the same token also works.',
  });
  for (const r of routes) {
    registry.registerPath({
      method: r.method,
      path: API_BASE + r.path.replace(/:(\w+)/g, '{$1}'),
      summary: r.summary,
      ...(r.auth ? { security: [{ cookieAuth: [] }] } : {}),
      request: {
        ...(r.params ? { params: r.params } : {}),
        ...(r.body ? { body: { required: !r.bodyOptional, content: { 'application/json': { schema: r.body } } } } : {}),
      },
      responses: Object.fromEntries(
        Object.entries(r.responses).map(([status, resp]) => [
          status,
          resp.schema ? { description: resp.description, content: { 'application/json': { schema: resp.schema } } } : { description: resp.description },
        ]),
      ),
    });
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'CFD Broker Auth API', version: '1.0.0', description: 'Signup with an emailed code, sessions, and account sessions management.' },
    servers: [{ url: '/' }],
  });
}
