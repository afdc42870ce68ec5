import { relyingParty } from '../../api/passkeys/passkeys.use-case';
import { createAccount } from '../../testkit/accounts';
import type { ApiClient } from '../../testkit/http';
import type { System } from '../../testkit/system';
import { SoftAuthenticator } from './soft-authenticator';

const PASSWORD = 'a sturdy test passphrase';

/** An authenticator whose "browser" runs on the API's configured web origin. */
export function authenticatorFor(sys: System): SoftAuthenticator {
  const { rpID, origins } = relyingParty(sys.config);
  return new SoftAuthenticator(origins[0]!, rpID);
}

/** A signed-in account with one passkey on `authenticator`. */
export async function accountWithPasskey(sys: System, tag: string, password = PASSWORD) {
  const owner = await createAccount(sys.apiUrl, tag, password);
  const authenticator = authenticatorFor(sys);
  const options = await owner.client.post('/passkeys/register/options');
  expect(options.status).toBe(200);
  const { response, credential } = authenticator.create(options.body);
  const registered = await owner.client.post('/passkeys/register', { response, label: 'Laptop' });
  expect(registered.status).toBe(201);
  return { ...owner, authenticator, credential, passkeyId: registered.body.passkey.id as string };
}

/** A passkey sign-in attempt from `client` (its session, if any, decides the mode). */
export async function passkeySignin(client: ApiClient, authenticator: SoftAuthenticator, opts: Parameters<SoftAuthenticator['get']>[1] = {}) {
  const options = await client.post('/passkeys/authenticate/options');
  expect(options.status).toBe(200);
  return client.post('/passkeys/authenticate', { response: authenticator.get(options.body, opts) });
}

