'use client';

import { useRef, useState, type FormEvent } from 'react';
import { CodeField } from '@/components/CodeField';
import { EmailField } from '@/components/EmailField';
import { FormAlert, StatusMessage } from '@/components/FormAlert';
import { CurrentPasswordField } from '@/components/PasswordField';
import { Button, SubmitButton } from '@/components/Button';
import { api, asApiError, type ApiError } from '@/lib/api';
import { useFormErrors } from '@/lib/useFormErrors';
import { useReauth } from './Reauth';
import { codeProblem, emailProblem, passwordProblem, problems } from '@/lib/validate';

type Step = { step: 'ask' } | { step: 'code'; newEmail: string; sent: string };

/**
 * Two steps: the new address and the password (the API mails a code there), then the code. The
 * account then has the new address; the old one gets a notice with a link that undoes the change.
 */
export function ChangeEmailForm({
  currentEmail,
  onChanged,
  onSignedOut,
}: {
  currentEmail: string;
  onChanged: (email: string) => void;
  onSignedOut: () => void;
}) {
  const [step, setStep] = useState<Step>({ step: 'ask' });
  const [newEmail, setNewEmail] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const { alert, fields, clear, fail, invalid, retryIn } = useFormErrors();
  const requireReauth = useReauth();
  const headingRef = useRef<HTMLHeadingElement>(null);

  /** A failure of either step: a lost session goes to sign-in, anything else is shown. */
  function failed(e: ApiError, opts: Parameters<typeof fail>[1] = {}) {
    if (e.code === 'UNAUTHENTICATED') return onSignedOut();
    if (e.code === 'REAUTH_REQUIRED') requireReauth();
    fail(e, opts);
  }

  async function ask(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || retryIn > 0) return;
    setDone(null);
    const value = newEmail.trim();
    const same = value.toLowerCase() === currentEmail.toLowerCase() ? 'That is already the address of your account.' : undefined;
    const found = problems({ newEmail: emailProblem(value) ?? same, password: passwordProblem(password) });
    if (found) return invalid(found);

    clear();
    setBusy(true);
    try {
      const { message } = await api.changeEmail({ newEmail: value, password });
      setPassword('');
      setCode('');
      setStep({ step: 'code', newEmail: value, sent: message });
    } catch (err) {
      const e = asApiError(err);
      if (e.code === 'INVALID_CURRENT_PASSWORD') setPassword('');
      failed(e, e.code === 'INVALID_CURRENT_PASSWORD' ? { field: 'password' } : {});
    } finally {
      setBusy(false);
    }
  }

  async function confirm(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || retryIn > 0) return;
    const found = problems({ code: codeProblem(code) });
    if (found) return invalid(found);

    clear();
    setBusy(true);
    try {
      const { message, user } = await api.verifyEmailChange(code.trim());
      onChanged(user.email);
      setNewEmail('');
      setCode('');
      setStep({ step: 'ask' });
      // The answer says how long the old address can undo the change.
      setDone(`${message} Your account now uses ${user.email}; every other device was signed out.`);
      // The form that had focus is gone: start again at the section's title.
      headingRef.current?.focus();
    } catch (err) {
      const e = asApiError(err);
      if (e.code === 'INVALID_CODE' || e.code === 'TOO_MANY_ATTEMPTS' || e.code === 'CODE_EXPIRED') setCode('');
      failed(
        e,
        e.code === 'EMAIL_TAKEN'
          ? { message: 'Another account took this address in the meantime. Choose another one.' }
          : e.code === 'INVALID_CODE'
            ? { field: 'code' }
            : {},
      );
    } finally {
      setBusy(false);
    }
  }

  function startAgain() {
    clear();
    setCode('');
    setStep({ step: 'ask' });
  }

  return (
    <section className="card" aria-labelledby="email-title">
      <h2 id="email-title" ref={headingRef} tabIndex={-1}>
        Change email
      </h2>
      {step.step === 'ask' ? (
        <>
          <p className="muted section-intro">We send a code to the new address to make sure it is yours.</p>
          <form onSubmit={ask} noValidate aria-busy={busy} className="section-form">
            <FormAlert alert={alert} id="email-error" />
            <StatusMessage message={done} />
            <EmailField id="new-email" name="newEmail" label="New email" autoFocus={false} value={newEmail} onChange={setNewEmail} error={fields.newEmail} />
            <CurrentPasswordField id="email-password" label="Your password" value={password} onChange={setPassword} error={fields.password} />
            <SubmitButton busy={busy} busyLabel="Sending code…" disabled={retryIn > 0}>
              {retryIn > 0 ? `Try again in ${retryIn} s` : 'Send code'}
            </SubmitButton>
          </form>
        </>
      ) : (
        <>
          <p className="muted section-intro">
            {step.sent} Enter the code sent to <strong className="email">{step.newEmail}</strong>.
          </p>
          <form onSubmit={confirm} noValidate aria-busy={busy} className="section-form">
            <FormAlert alert={alert} id="email-error" />
            <CodeField id="email-code" name="code" label="Confirmation code" value={code} onChange={setCode} error={fields.code} />
            <div className="form-actions">
              <SubmitButton busy={busy} busyLabel="Confirming…" disabled={retryIn > 0}>
                {retryIn > 0 ? `Try again in ${retryIn} s` : 'Confirm new email'}
              </SubmitButton>
              <Button variant="secondary" busy={false} busyLabel="" disabled={busy} onClick={startAgain}>
                Use another address or send a new code
              </Button>
            </div>
          </form>
        </>
      )}
    </section>
  );
}
