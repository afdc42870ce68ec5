/**
 * The browser side of passkeys: the API's options go to the authenticator through
 * `@simplewebauthn/browser` (navigator.credentials), and its answer back to the API. A ceremony the
 * person cancels, or one the browser refuses, is an {@link ApiError} with a message like any other.
 */
import { startAuthentication, startRegistration, WebAuthnError, type PublicKeyCredentialCreationOptionsJSON, type PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/browser';
import { useEffect, useState } from 'react';
import { api, ApiError, type Passkey } from './api';

const CANCELLED = 'The passkey prompt was closed or timed out. Try again.';

function browserFailure(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const name = err instanceof WebAuthnError ? err.code : err instanceof Error ? err.name : '';
  const message =
    name === 'NotAllowedError' || name === 'ERROR_CEREMONY_ABORTED'
      ? CANCELLED
      : name === 'ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED' || name === 'InvalidStateError'
        ? 'This device already has a passkey for your account.'
        : 'This browser could not use a passkey here.';
  return new ApiError({ code: 'UNKNOWN', status: 0, message });
}

/** The authenticator's part of a ceremony; its refusals as ApiErrors. */
async function inBrowser<T>(ceremony: () => Promise<T>): Promise<T> {
  try {
    return await ceremony();
  } catch (err) {
    throw browserFailure(err);
  }
}

/** Whether this browser can make and use passkeys at all: false on the server and until the page is hydrated. */
export function usePasskeySupport(): boolean {
  const [supported, setSupported] = useState(false);
  useEffect(() => setSupported(typeof window.PublicKeyCredential === 'function'), []);
  return supported;
}

/** Adds a passkey on this device to the signed-in account. */
export async function registerPasskey(label?: string): Promise<Passkey> {
  const optionsJSON = (await api.passkeyRegistrationOptions()) as unknown as PublicKeyCredentialCreationOptionsJSON;
  const response = await inBrowser(() => startRegistration({ optionsJSON }));
  return (await api.passkeyRegister({ response: response as never, ...(label ? { label } : {}) })).passkey;
}

/** Signs in with a passkey: alone (the browser offers this site's passkeys), or as the second step of the partial session. */
export async function signInWithPasskey() {
  const optionsJSON = (await api.passkeyAuthenticationOptions()) as unknown as PublicKeyCredentialRequestOptionsJSON;
  const response = await inBrowser(() => startAuthentication({ optionsJSON }));
  return api.passkeyAuthenticate({ response: response as never });
}
