'use client';

import { useState, type FormEvent } from 'react';
import { FormAlert, StatusMessage } from '@/components/FormAlert';
import { CurrentPasswordField, NewPasswordField } from '@/components/PasswordField';
import { SubmitButton } from '@/components/Button';
import { api, asApiError } from '@/lib/api';
import { useFormErrors } from '@/lib/useFormErrors';
import { useReauth } from './Reauth';
import { currentPasswordProblem, newPasswordProblem, problems } from '@/lib/validate';

export const PASSWORD_CHANGED = 'Your password was changed. Every other device was signed out; this one stays signed in.';

/** Current and new password; the API signs out every other session and mails a notice. */
export function ChangePasswordForm({ onSignedOut }: { onSignedOut: () => void }) {
  const [currentPassword, setCurrentPassword] = useState('');
  const [newPassword, setNewPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const { alert, fields, clear, fail, invalid, retryIn } = useFormErrors();
  const requireReauth = useReauth();

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || retryIn > 0) return;
    setDone(null);
    const found = problems({ currentPassword: currentPasswordProblem(currentPassword), newPassword: newPasswordProblem(newPassword) });
    if (found) return invalid(found);

    clear();
    setBusy(true);
    try {
      await api.changePassword({ currentPassword, newPassword });
      setCurrentPassword('');
      setNewPassword('');
      setDone(PASSWORD_CHANGED);
    } catch (err) {
      const e = asApiError(err);
      if (e.code === 'UNAUTHENTICATED') return onSignedOut();
      if (e.code === 'REAUTH_REQUIRED') requireReauth();
      if (e.code === 'INVALID_CURRENT_PASSWORD') {
        setCurrentPassword('');
        fail(e, { field: 'currentPassword' });
      } else {
        // WEAK_PASSWORD carries the policy's reason as its message.
        fail(e, e.code === 'WEAK_PASSWORD' ? { field: 'newPassword' } : {});
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="password-title">
      <h2 id="password-title">Change password</h2>
      <p className="muted section-intro">Every other device signed in to your account will be signed out.</p>
      <form onSubmit={onSubmit} noValidate aria-busy={busy} className="section-form">
        <FormAlert alert={alert} id="password-error" />
        <StatusMessage message={done} />
        <CurrentPasswordField
          id="current-password"
          name="currentPassword"
          label="Current password"
          value={currentPassword}
          onChange={setCurrentPassword}
          error={fields.currentPassword}
        />
        <NewPasswordField id="new-password" name="newPassword" label="New password" value={newPassword} onChange={setNewPassword} error={fields.newPassword} />
        <SubmitButton busy={busy} busyLabel="Changing password…" disabled={retryIn > 0}>
          {retryIn > 0 ? `Try again in ${retryIn} s` : 'Change password'}
        </SubmitButton>
      </form>
    </section>
  );
}
