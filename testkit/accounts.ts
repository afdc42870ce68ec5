import { ApiClient } from './http';
import { waitForCode } from './maildev';
import { uniqueEmail } from './env';

/** A signup of a new unique email through `client`, and the code it was mailed. */
export async function pendingSignup(client: ApiClient, tag: string): Promise<{ email: string; otp: string }> {
  const email = uniqueEmail(tag);
  await client.post('/signup', { email });
  return { email, otp: await waitForCode(email) };
}

/** Makes a real account through signup → mail → verify; returns a signed-in client. */
export async function createAccount(apiUrl: string, tag = 'user', password = 'a sturdy test passphrase') {
  const client = new ApiClient(apiUrl);
  const { email, otp } = await pendingSignup(client, tag);
  const r = await client.post('/verify', { email, otp, password, name: `Test ${tag}` });
  if (r.status !== 201) throw new Error(`verify answered ${r.status}: ${r.text}`);
  return { client, email, password, user: r.body.user as { id: string; email: string; name: string } };
}
