'use client';

import { useState, type FormEvent } from 'react';
import { Checkbox } from '@/components/Checkbox';
import { FormAlert } from '@/components/FormAlert';
import { CurrentPasswordField } from '@/components/PasswordField';
import { SubmitButton } from '@/components/Button';
import { api, asApiError } from '@/lib/api';
import { useFormErrors } from '@/lib/useFormErrors';
import { useReauth } from './Reauth';
import { passwordProblem, problems } from '@/lib/validate';

/**
 * The password and an explicit "I understand", then `DELETE /me`. The API ends every session (this
 * one too: it clears the cookie) and mails a link that restores the account during the grace period.
 */
export function CloseAccountForm({ onClosed, onSignedOut }: { onClosed: (message: string) => void; onSignedOut: () => void }) {
  const [password, setPassword] = useState('');
  const [understood, setUnderstood] = useState(false);
  const [busy, setBusy] = useState(false);
  const { alert, fields, clear, fail, invalid, retryIn } = useFormErrors();
  const requireReauth = useReauth();

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || retryIn > 0) return;
    const found = problems({
      password: passwordProblem(password),
      confirm: understood ? undefined : 'Tick the box to confirm that you want to close your account.',
    });
    if (found) return invalid(found);

    clear();
    setBusy(true);
    try {
      const { message } = await api.closeAccount(password);
      onClosed(message);
    } catch (err) {
      const e = asApiError(err);
      setBusy(false);
      if (e.code === 'UNAUTHENTICATED') return onSignedOut();
      if (e.code === 'REAUTH_REQUIRED') requireReauth();
      if (e.code === 'INVALID_CURRENT_PASSWORD') setPassword('');
      fail(e, e.code === 'INVALID_CURRENT_PASSWORD' ? { field: 'password' } : {});
    }
  }

  return (
    <section className="card danger-card" aria-labelledby="close-title">
      <h2 id="close-title">Close account</h2>
      <p className="muted section-intro">
        Every device is signed out at once and you can no longer sign in. We email you a link that restores the account
        during a grace period; after it, your personal data is erased and the address can sign up again.
      </p>
      <form onSubmit={onSubmit} noValidate aria-busy={busy} className="section-form">
        <FormAlert alert={alert} id="close-error" />
        <CurrentPasswordField id="close-password" label="Your password" value={password} onChange={setPassword} error={fields.password} />
        <Checkbox
          id="close-confirm"
          name="confirm"
          label="I understand: my account will be closed and every device signed out."
          checked={understood}
          onChange={(e) => setUnderstood(e.target.checked)}
          error={fields.confirm}
        />
        <SubmitButton variant="danger" busy={busy} busyLabel="Closing account…" disabled={retryIn > 0}>
          {retryIn > 0 ? `Try again in ${retryIn} s` : 'Close account'}
        </SubmitButton>
      </form>
    </section>
  );
}
