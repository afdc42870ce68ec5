'use client';

import { createContext, useContext, useEffect, useRef, useState, type FormEvent } from 'react';
import { CodeField } from '@/components/CodeField';
import { FormAlert } from '@/components/FormAlert';
import { CurrentPasswordField } from '@/components/PasswordField';
import { SubmitButton } from '@/components/Button';
import { api, asApiError } from '@/lib/api';
import { useFormErrors } from '@/lib/useFormErrors';
import { passwordProblem, problems } from '@/lib/validate';

/**
 * Sensitive changes answer REAUTH_REQUIRED when the sign-in is more than 10 minutes old. A form that
 * gets it calls `requireReauth()`: the security page then shows the re-authentication prompt.
 */
export const ReauthContext = createContext<() => void>(() => undefined);
export const useReauth = () => useContext(ReauthContext);

/** Password, and the app's code when two-step sign-in is on: `POST /reauth`, then the change can be tried again. */
export function ReauthPrompt({ mfaOn, onDone, onSignedOut }: { mfaOn: boolean; onDone: () => void; onSignedOut: () => void }) {
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const { alert, fields, clear, fail, invalid, retryIn } = useFormErrors();
  const headingRef = useRef<HTMLHeadingElement>(null);
  useEffect(() => headingRef.current?.focus(), []);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || retryIn > 0) return;
    const found = problems({ password: passwordProblem(password), code: mfaOn && !code.trim() ? 'Enter the code from your authenticator app.' : undefined });
    if (found) return invalid(found);
    clear();
    setBusy(true);
    try {
      await api.reauth(mfaOn ? { password, code: code.trim() } : { password });
      onDone();
    } catch (err) {
      const e = asApiError(err);
      setBusy(false);
      if (e.code === 'UNAUTHENTICATED') return onSignedOut();
      setPassword('');
      setCode('');
      fail(e, e.code === 'INVALID_CURRENT_PASSWORD' ? { field: 'password' } : e.code === 'INVALID_MFA_CODE' ? { field: 'code' } : {});
    }
  }

  return (
    <section className="card" aria-labelledby="reauth-title" data-testid="reauth-prompt">
      <h2 id="reauth-title" ref={headingRef} tabIndex={-1}>
        Confirm it is you
      </h2>
      <p className="muted section-intro">Your sign-in is more than a few minutes old. Confirm your password{mfaOn ? ' and a code from your authenticator app' : ''}, then make the change again.</p>
      <form onSubmit={onSubmit} noValidate aria-busy={busy} className="section-form">
        <FormAlert alert={alert} id="reauth-error" />
        <CurrentPasswordField id="reauth-password" label="Your password" value={password} onChange={setPassword} error={fields.password} />
        {mfaOn ? <CodeField id="reauth-code" name="code" label="Authentication code" value={code} onChange={setCode} error={fields.code} /> : null}
        <SubmitButton busy={busy} busyLabel="Confirming…" disabled={retryIn > 0}>
          {retryIn > 0 ? `Try again in ${retryIn} s` : 'Confirm'}
        </SubmitButton>
      </form>
    </section>
  );
}
