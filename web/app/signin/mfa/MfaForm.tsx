'use client';

import Link from 'next/link';
import { useRouter, useSearchParams } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { AuthCard } from '@/components/AuthCard';
import { CodeField } from '@/components/CodeField';
import { Field } from '@/components/Field';
import { FormAlert } from '@/components/FormAlert';
import { SubmitButton } from '@/components/Button';
import { api } from '@/lib/api';
import { usePasskeySupport } from '@/lib/passkeys';
import { PasskeySigninButton } from '@/components/PasskeySigninButton';
import { useFormErrors } from '@/lib/useFormErrors';

/**
 * The second step of a sign-in (after the password, or a password reset, of an account with
 * two-step sign-in): the authenticator app's code, or one of the recovery codes when the phone is lost.
 * The partial session lives 5 minutes; once it is gone the visitor starts again at the password.
 * `?methods=` (from the password step's answer) names the account's factors: an account with a
 * passkey is offered it; one with only a passkey is not asked for a code.
 */
export function MfaForm() {
  const router = useRouter();
  const methods = (useSearchParams().get('methods') ?? 'totp,recovery_code').split(',');
  const codes = methods.includes('totp');
  const passkeySupport = usePasskeySupport();
  const passkeyOffered = methods.includes('passkey') && passkeySupport;
  const [useRecovery, setUseRecovery] = useState(false);
  const [code, setCode] = useState('');
  const [recoveryCode, setRecoveryCode] = useState('');
  const [busy, setBusy] = useState(false);
  const { alert, fields, clear, fail, invalid, retryIn } = useFormErrors();

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy || retryIn > 0) return;
    if (!useRecovery && !/^[0-9]{6}$/.test(code)) return invalid({ code: 'Enter the 6-digit code from your authenticator app.' });
    if (useRecovery && recoveryCode.replace(/[\s-]/g, '').length !== 10) return invalid({ recoveryCode: 'A recovery code has 10 letters and digits.' });
    clear();
    setBusy(true);
    try {
      await api.signinMfa(useRecovery ? { recoveryCode: recoveryCode.trim() } : { code });
      router.replace('/account');
    } catch (err) {
      const e = fail(err, { field: useRecovery ? 'recoveryCode' : 'code' });
      if (e.code === 'UNAUTHENTICATED') return router.replace('/signin?reason=expired');
      setCode('');
      setBusy(false);
    }
  }

  const passkeyButton = passkeyOffered ? (
    <PasskeySigninButton
      label="Use your passkey"
      primary={!codes}
      testId="passkey-second-step"
      disabled={busy || retryIn > 0}
      onStart={() => {
        clear();
        setBusy(true);
      }}
      onFailed={(err) => {
        const e = fail(err);
        if (e.code === 'UNAUTHENTICATED') return router.replace('/signin?reason=expired');
        setBusy(false);
      }}
    />
  ) : null;

  if (!codes) {
    return (
      <AuthCard
        title="Two-step sign-in"
        intro={<p>Your password was right. Finish signing in with the passkey on your device.</p>}
        footer={
          <p>
            <Link href="/signin">Start again</Link>
          </p>
        }
      >
        <FormAlert alert={alert} />
        {passkeyButton}
      </AuthCard>
    );
  }

  return (
    <AuthCard
      title="Two-step sign-in"
      intro={<p>{useRecovery ? 'Enter one of the recovery codes you saved when you turned on two-step sign-in. Each works once.' : 'Enter the 6-digit code your authenticator app shows for CFD Broker.'}</p>}
      footer={
        <p>
          <Link href="/signin">Start again</Link>
        </p>
      }
    >
      <form onSubmit={onSubmit} noValidate aria-busy={busy}>
        <FormAlert alert={alert} />
        {useRecovery ? (
          <Field
            id="recovery-code"
            name="recoveryCode"
            label="Recovery code"
            autoComplete="off"
            autoFocus
            maxLength={16}
            value={recoveryCode}
            onChange={(e) => setRecoveryCode(e.target.value)}
            error={fields.recoveryCode}
          />
        ) : (
          <CodeField id="mfa-code" name="code" label="Authentication code" value={code} onChange={setCode} error={fields.code} />
        )}
        <SubmitButton busy={busy} busyLabel="Checking…" className="btn-block" disabled={retryIn > 0}>
          {retryIn > 0 ? `Try again in ${retryIn} s` : 'Continue'}
        </SubmitButton>
      </form>
      {passkeyButton}
      <p>
        <button
          type="button"
          className="btn btn-link"
          onClick={() => {
            clear();
            setUseRecovery((r) => !r);
          }}
        >
          {useRecovery ? 'Use the authenticator app instead' : 'Lost your phone? Use a recovery code'}
        </button>
      </p>
    </AuthCard>
  );
}
