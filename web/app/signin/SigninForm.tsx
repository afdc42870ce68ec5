'use client';

import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { AuthCard } from '@/components/AuthCard';
import { EmailField } from '@/components/EmailField';
import { FormAlert, StatusMessage } from '@/components/FormAlert';
import { CurrentPasswordField } from '@/components/PasswordField';
import { SubmitButton } from '@/components/Button';
import { afterPasswordStep, api } from '@/lib/api';
import { usePasskeySupport } from '@/lib/passkeys';
import { PasskeySigninButton } from '@/components/PasskeySigninButton';
import { useFormErrors } from '@/lib/useFormErrors';
import { emailProblem, passwordProblem, problems } from '@/lib/validate';

/** Why the visitor landed here, set by the page that sent them (?reason=). */
const REASONS: Record<string, string> = {
  'signed-out': 'You are signed out.',
  'signed-out-everywhere': 'You are signed out on every device.',
  expired: 'Your session has ended. Sign in again to continue.',
};

export function SigninForm() {
  const router = useRouter();
  const params = useSearchParams();
  const reason = REASONS[params.get('reason') ?? ''] ?? null;
  const [email, setEmail] = useState(params.get('email') ?? '');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const { alert, fields, clear, fail, invalid, retryIn } = useFormErrors();
  const passkeys = usePasskeySupport();

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || retryIn > 0) return;
    const value = email.trim();
    const found = problems({ email: emailProblem(value), password: passwordProblem(password) });
    if (found) return invalid(found);

    clear();
    setBusy(true);
    try {
      const answer = await api.signin({ email: value, password });
      router.replace(afterPasswordStep(answer));
    } catch (err) {
      const e = fail(err);
      if (e.code === 'INVALID_CREDENTIALS') setPassword('');
      setBusy(false);
    }
  }

  return (
    <AuthCard
      title="Sign in"
      intro={<p>Welcome back. Sign in with your email and password.</p>}
      footer={
        <>
          <p>
            <Link href={`/forgot${email.trim() ? `?email=${encodeURIComponent(email.trim())}` : ''}`}>Forgot your password?</Link>
          </p>
          <p>
            New here? <Link href="/signup">Create an account</Link>
          </p>
        </>
      }
    >
      <form onSubmit={onSubmit} noValidate aria-busy={busy}>
        <FormAlert alert={alert} />
        {!alert ? <StatusMessage message={reason} /> : null}
        <EmailField value={email} onChange={setEmail} error={fields.email} />
        <CurrentPasswordField id="password" label="Password" value={password} onChange={setPassword} error={fields.password} />
        <SubmitButton busy={busy} busyLabel="Signing in…" className="btn-block" disabled={retryIn > 0}>
          {retryIn > 0 ? `Try again in ${retryIn} s` : 'Sign in'}
        </SubmitButton>
      </form>
      {passkeys ? (
        // A passkey alone: no email typed; the browser offers this site's passkeys.
        <PasskeySigninButton
          label="Sign in with a passkey"
          testId="passkey-signin"
          disabled={busy || retryIn > 0}
          onStart={() => {
            clear();
            setBusy(true);
          }}
          onFailed={(err) => {
            fail(err);
            setBusy(false);
          }}
        />
      ) : null}
    </AuthCard>
  );
}
