import { mfaRoutes } from '../mfa/mfa.routes';
import type { MfaUseCases } from '../mfa/mfa.use-case';
import { passkeyRoutes } from '../passkeys/passkeys.routes';
import type { PasskeyUseCases } from '../passkeys/passkeys.use-case';
import { authRoutes, type RouteSpec } from './auth.routes';

/** Every route the API mounts, in one table: the app mounts it and the OpenAPI document (and the web types) are built from it. */
export function apiRoutes(deps: Parameters<typeof authRoutes>[0] & { mfa: MfaUseCases; passkeys: PasskeyUseCases }): RouteSpec[] {
  return [...authRoutes(deps), ...mfaRoutes(deps), ...passkeyRoutes(deps)];
}
