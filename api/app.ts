import cookieParser from 'cookie-parser';
import cors from 'cors';
import express, { type Express } from 'express';
import helmet from 'helmet';
import swaggerUi from 'swagger-ui-express';
import type { Config } from '../common/config';
import { liveness, readiness, type LivenessCheck, type ReadinessCheck } from '../common/health';
import type { Logger } from '../common/logger';
import { serverSpan } from './http/server-span';
import { csrfGuard, errorHandler, fixedHeaders, httpMetrics, methodNotAllowed, noStore, notFound, requestContext, requireObjectBody, routeIndex, routeTemplate } from './http/middleware';
import { ADMIN_BASE, API_BASE, JWKS_PATH, buildOpenApi } from './openapi';
import { adminGuard, adminRoutes, toAdminHandler } from './admin/admin.routes';
import { createAdminTokenVerifier } from './admin/admin-token';
import type { AdminUseCases } from './admin/admin.use-case';
import { cookieNames } from './http/cookies';
import { toHandler } from './routes/auth.routes';
import { apiRoutes } from './routes';
import type { SessionStore } from './sessions/session.store';
import { tokenConfig } from './sessions/token';
import type { AccessTokens } from './tokens/access-token';
import type { SigningKeyCache } from './tokens/key-cache';
import { jwksMaxAgeSeconds } from './tokens/signing-keys';
import type { AuditTrail } from './audit/audit-trail';
import type { ClosureUseCases } from './use-cases/closure.use-case';
import type { EmailUseCases } from './use-cases/email.use-case';
import type { PasswordUseCases } from './use-cases/password.use-case';
import type { SessionUseCases } from './use-cases/sessions.use-case';
import type { SigninUseCases } from './use-cases/signin.use-case';
import type { SignupUseCases } from './use-cases/signup.use-case';
import type { MfaUseCases } from './mfa/mfa.use-case';
import type { PasskeyUseCases } from './passkeys/passkeys.use-case';
import { tracing } from '../common/tracing';

export interface AppDeps {
  config: Config;
  logger: Logger;
  trail: AuditTrail;
  signup: SignupUseCases;
  signin: SigninUseCases;
  password: PasswordUseCases;
  email: EmailUseCases;
  closure: ClosureUseCases;
  mfa: MfaUseCases;
  admin: AdminUseCases;
  passkeys: PasskeyUseCases;
  sessions: SessionStore;
  sessionUseCases: SessionUseCases;
  accessTokens: AccessTokens;
  signingKeys: SigningKeyCache;
  readinessChecks: Record<string, ReadinessCheck>;
  livenessChecks?: Record<string, LivenessCheck>;
}

export function createApp(deps: AppDeps): Express {
  const { config, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.TRUST_PROXY);
  app.set('json escape', true);

  const auth = { sessions: deps.sessions, tokens: tokenConfig(config), sessionCookie: cookieNames(config).session };
  const routes = apiRoutes({ ...deps, ...auth });
  // ADMIN_API=off: the admin paths do not exist (404), and the document does not show them.
  const admin = config.ADMIN_API === 'on' ? adminRoutes(deps) : [];
  const openapi = buildOpenApi(routes, admin);
  // Only a route that declares a body reads one.
  const jsonBody = [express.json({ limit: '16kb', strict: true, type: 'application/json' }), requireObjectBody];
  const guard = { ...auth, reauthWindowMs: config.REAUTH_WINDOW_S * 1000 };
  const api = routeIndex(routes.map((spec) => ({ path: spec.path, method: spec.method, handlers: [routeTemplate(API_BASE + spec.path), ...(spec.body ? jsonBody : []), toHandler(spec, guard)] })));

  app.use(httpMetrics);
  app.get('/health/live', (_req, res) => {
    const l = liveness(deps.livenessChecks);
    res.status(l.status === 'live' ? 200 : 503).json(l);
  });
  app.get('/health/ready', async (_req, res) => {
    const r = await readiness(deps.readinessChecks);
    res.status(r.status === 'ready' ? 200 : 503).json(r);
  });

  // Probes are not traced; everything after this is (common/tracing.ts).
  if (tracing()) app.use(serverSpan);
  app.use(requestContext(logger, deps.trail));
  // Before anything that can answer (CORS, CSRF, body parsing, errors): no auth answer is cached.
  app.use(API_BASE, noStore);
  app.use(ADMIN_BASE, noStore);
  // helmet's headers are fixed for its options: computed once (fixedHeaders).
  app.use(fixedHeaders(helmet()));
  app.use(cors({ origin: config.WEB_ORIGINS, credentials: true, methods: ['GET', 'POST', 'DELETE'], allowedHeaders: ['content-type', 'x-request-id'], exposedHeaders: ['retry-after', 'x-request-id'], maxAge: 600 }));
  app.use(API_BASE, api.methodCheck);
  app.use(ADMIN_BASE, methodNotAllowed(admin));
  app.use(csrfGuard(config.WEB_ORIGINS));
  app.use(cookieParser());

  const jwksCache = `public, max-age=${jwksMaxAgeSeconds(config)}`;
  app.use(methodNotAllowed([{ path: JWKS_PATH, method: 'get' }]));
  app.get(JWKS_PATH, (_req, res) => {
    const keys = deps.signingKeys.published();
    res.set('Cache-Control', jwksCache).json({ keys });
  });

  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  if (!config.isProduction) {
    app.use('/docs', helmet({ contentSecurityPolicy: false }), swaggerUi.serve, swaggerUi.setup(openapi));
  }

  app.use(API_BASE, api.dispatch, api.router);

  if (admin.length > 0) {
    const adminRouter = express.Router();
    const adminAuth = adminGuard(createAdminTokenVerifier({ config, signingKeys: deps.signingKeys }));
    for (const spec of admin) adminRouter[spec.method](spec.path, routeTemplate(ADMIN_BASE + spec.path), adminAuth, toAdminHandler(spec));
    app.use(ADMIN_BASE, adminRouter);
  }

  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
