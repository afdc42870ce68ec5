import type { Request, RequestHandler } from 'express';
import type { z } from 'zod';
import type { AdminAction } from '../../common/events/audit';
import { AppError, type ErrorCode } from '../../common/errors';
import type { SuccessResponse } from '../routes/auth.routes';
import type { RequestContext } from '../use-cases/context';
import type { AdminCaller, AdminTokenVerifier } from './admin-token';
import * as A from './admin.schemas';
import type { AdminUseCases } from './admin.use-case';

declare module 'express-serve-static-core' {
  interface Locals {
    /** The operator of an admin call (set by adminGuard). */
    admin?: AdminCaller;
  }
}

/** A route of the admin API: bearer-authenticated (never by cookie), and audited whatever its outcome. */
export interface AdminRouteSpec {
  method: 'get' | 'post';
  /** Express path under ADMIN_BASE. */
  path: string;
  summary: string;
  /** The audit action every call of this route is recorded as. */
  action: AdminAction;
  params?: z.ZodObject;
  query?: z.ZodType;
  responses: Record<number, SuccessResponse>;
  errors?: ErrorCode[];
  handler: (req: Request, admin: AdminCaller, ctx: RequestContext) => Promise<{ status: number; body: unknown }>;
}

const REALM = 'Bearer realm="cfd-admin"';
const BEARER = /^Bearer ([A-Za-z0-9_.-]{1,4096})$/;

/**
 * Only an `Authorization: Bearer` admin token opens the admin API: cookies are never read (a browser
 * cannot be made to send the header cross-site, and CORS does not allow it), so no CSRF reaches it.
 * 401 (with WWW-Authenticate) without a valid token of ours, 403 for a valid one that is not an admin's.
 */
export function adminGuard(verify: AdminTokenVerifier): RequestHandler {
  return (req, res, next) => {
    const token = BEARER.exec(req.get('authorization') ?? '')?.[1];
    try {
      if (!token) throw new AppError('UNAUTHENTICATED', 'A valid admin bearer token is required.');
      res.locals.admin = verify(token);
    } catch (err) {
      if (err instanceof AppError && (err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN')) {
        res.setHeader('www-authenticate', err.code === 'FORBIDDEN' ? `${REALM}, error="insufficient_scope"` : token ? `${REALM}, error="invalid_token"` : REALM);
        res.locals.ctx.logger.info({ event: 'admin_refused', code: err.code, path: req.path, ip: res.locals.ctx.ip }, 'admin call refused');
      }
      return next(err);
    }
    next();
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The user a call is about, as far as its input names one (a path id, or the audit listing's userId). */
function subjectOf(req: Request): string | null {
  const candidate = (req.params as Record<string, unknown>).id ?? (req.query as Record<string, unknown>).userId;
  return typeof candidate === 'string' && UUID.test(candidate) ? candidate.toLowerCase() : null;
}

/**
 * Mounts an admin spec. The audit row is written before the answer leaves: an operator gets
 * nothing, not even a read, that the trail does not hold (503 when it cannot be written). A call
 * that fails is recorded as `failure` and answers its own error.
 */
export function toAdminHandler(spec: AdminRouteSpec): RequestHandler {
  return async (req, res) => {
    const admin = res.locals.admin!;
    const ctx = res.locals.ctx;
    const audit = (outcome: 'success' | 'failure') => ctx.trail.recordNow(ctx, { action: spec.action, actor: admin.actor, userId: subjectOf(req), outcome });
    let result: { status: number; body: unknown };
    try {
      result = await spec.handler(req, admin, ctx);
    } catch (err) {
      await audit('failure').catch(() => undefined);
      throw err;
    }
    await audit('success');
    ctx.logger.info({ event: 'admin_call', action: spec.action, actor: admin.actor, tokenId: admin.tokenId, userId: subjectOf(req) }, 'admin call');
    res.status(result.status).json(result.body);
  };
}

export function adminRoutes(deps: { admin: AdminUseCases }): AdminRouteSpec[] {
  const { admin: use } = deps;
  const id = (req: Request) => A.UserIdParams.parse(req.params).id;
  return [
    {
      method: 'get', path: '/users/:id', action: 'admin.user_read', params: A.UserIdParams,
      summary: "An account's state, factors, session count and locks (ids only: no email, name or hash).",
      responses: { 200: { description: 'The account', schema: A.AdminUserView } },
      errors: ['USER_NOT_FOUND'],
      handler: async (req) => ({ status: 200, body: await use.view(id(req)) }),
    },
    {
      method: 'get', path: '/audit', action: 'admin.audit_read', query: A.AuditQuery,
      summary: 'The audit trail, newest first, filtered by user, action and time; paged with an opaque cursor.',
      responses: { 200: { description: 'A page of audit events', schema: A.AuditPage } },
      errors: ['INVALID_CURSOR'],
      handler: async (req) => ({ status: 200, body: await use.audit(A.AuditQuery.parse(req.query)) }),
    },
    {
      method: 'post', path: '/users/:id/revoke-sessions', action: 'admin.sessions_revoked', params: A.UserIdParams,
      summary: 'End every session of the account (it can sign in again).',
      responses: { 200: { description: 'Sessions revoked', schema: A.SessionsRevoked } },
      errors: ['USER_NOT_FOUND'],
      handler: async (req, admin, ctx) => ({ status: 200, body: await use.revokeSessions(id(req), admin, ctx) }),
    },
    {
      method: 'post', path: '/users/:id/lock', action: 'admin.user_locked', params: A.UserIdParams,
      summary: 'Lock the account: every session ends and sign-in answers 403 ACCOUNT_LOCKED (to the right password only) until it is unlocked.',
      responses: { 200: { description: 'Locked', schema: A.LockResult } },
      errors: ['USER_NOT_FOUND'],
      handler: async (req, admin, ctx) => ({ status: 200, body: await use.lock(id(req), admin, ctx) }),
    },
    {
      method: 'post', path: '/users/:id/unlock', action: 'admin.user_unlocked', params: A.UserIdParams,
      summary: 'Unlock the account: it can sign in again.',
      responses: { 200: { description: 'Unlocked', schema: A.LockResult } },
      errors: ['USER_NOT_FOUND'],
      handler: async (req, admin, ctx) => ({ status: 200, body: await use.unlock(id(req), admin, ctx) }),
    },
  ];
}
