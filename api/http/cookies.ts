import type { Request, Response } from 'express';
import type { Config } from '../../common/config';
import type { IssuedSession } from '../use-cases/sessions.use-case';

/**
 * Cookie names. In production the `__Host-` prefix makes the browser refuse the cookie unless it is
 * Secure, has Path=/ and no Domain: a sibling subdomain or a plain-HTTP page cannot set or
 * shadow it. Elsewhere (local HTTP) the prefix would make browsers drop the cookie, so no prefix.
 */
export function cookieNames(config: { isProduction: boolean }) {
  const prefix = config.isProduction ? '__Host-' : '';
  return { session: `${prefix}auth_token`, device: `${prefix}auth_device` };
}

/**
 * The cookie policy of the API in one place: the session cookie (HttpOnly, SameSite=Lax, Secure in
 * production, Path=/, no Domain) and the device cookie (the same, SameSite=Strict).
 */
export function cookiePolicy(config: Pick<Config, 'isProduction' | 'DEVICE_COOKIE_TTL_S'>) {
  const names = cookieNames(config);
  // Path=/ and no Domain in every environment: what the __Host- prefix demands in production.
  const cookieOptions = {
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: config.isProduction,
    path: '/',
  };
  return {
    setSession: (res: Response, s: IssuedSession) => res.cookie(names.session, s.token, { ...cookieOptions, maxAge: s.maxAgeMs }),
    clearSession: (res: Response) => res.clearCookie(names.session, cookieOptions),
    // The device cookie is never needed on a cross-site navigation: Strict.
    setDevice: (res: Response, value: string) =>
      res.cookie(names.device, value, { ...cookieOptions, sameSite: 'strict', maxAge: config.DEVICE_COOKIE_TTL_S * 1000 }),
    deviceOf: (req: Request) => (req.cookies as Record<string, string> | undefined)?.[names.device],
  };
}
