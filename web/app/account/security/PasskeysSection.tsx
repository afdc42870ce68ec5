'use client';

import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { Button, SubmitButton } from '@/components/Button';
import { Field } from '@/components/Field';
import { FormAlert, StatusMessage } from '@/components/FormAlert';
import { api, asApiError, type ApiError, type Passkey } from '@/lib/api';
import { formatDate } from '@/lib/format';
import { registerPasskey, usePasskeySupport } from '@/lib/passkeys';
import { useFormErrors } from '@/lib/useFormErrors';
import { useReauth } from './Reauth';

/**
 * Passkeys of the account: add one on this device (it then signs in without the password, and is
 * asked for after the password), see them, remove one. Adding and removing are sensitive changes.
 */
export function PasskeysSection({ onSignedOut }: { onSignedOut: () => void }) {
  const [passkeys, setPasskeys] = useState<Passkey[] | null>(null);
  const [label, setLabel] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const { alert, fields, clear, fail } = useFormErrors();
  const requireReauth = useReauth();
  const supported = usePasskeySupport();

  const load = useCallback(async () => {
    try {
      setPasskeys(await api.passkeys());
    } catch (err) {
      const e = asApiError(err);
      if (e.code === 'UNAUTHENTICATED') return onSignedOut();
      fail(e);
    }
  }, [fail, onSignedOut]);

  useEffect(() => {
    void load();
  }, [load]);

  function failed(e: ApiError) {
    setBusy(null);
    if (e.code === 'UNAUTHENTICATED') return onSignedOut();
    if (e.code === 'REAUTH_REQUIRED') requireReauth();
    fail(e, e.code === 'VALIDATION_FAILED' ? { field: 'label' } : {});
  }

  async function add(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    clear();
    setDone(null);
    setBusy('add');
    try {
      const added = await registerPasskey(label.trim() || undefined);
      setPasskeys((list) => [...(list ?? []), added]);
      setLabel('');
      setDone(`Passkey "${added.label}" added. You can now sign in with it, without your password.`);
      setBusy(null);
    } catch (err) {
      failed(asApiError(err));
    }
  }

  async function remove(passkey: Passkey) {
    clear();
    setDone(null);
    setBusy(passkey.id);
    try {
      await api.removePasskey(passkey.id);
      setPasskeys((list) => (list ?? []).filter((p) => p.id !== passkey.id));
      setDone(`Passkey "${passkey.label}" removed.`);
      setBusy(null);
    } catch (err) {
      failed(asApiError(err));
    }
  }

  return (
    <section className="card" aria-labelledby="passkeys-title" data-testid="passkeys">
      <h2 id="passkeys-title">Passkeys</h2>
      <FormAlert alert={alert} id="passkeys-error" />
      <StatusMessage message={done} />
      <p className="muted section-intro">
        A passkey on your phone or computer signs you in with its screen lock, without your password. With a passkey, signing in with your password also asks for it.
      </p>
      {passkeys === null ? <p className="muted">Loading…</p> : null}
      {passkeys && passkeys.length > 0 ? (
        <ul className="passkey-list" data-testid="passkey-list">
          {passkeys.map((p) => (
            <li key={p.id}>
              <span data-testid="passkey-label">{p.label}</span>{' '}
              <span className="muted">
                added {formatDate(p.createdAt)}
                {p.lastUsedAt ? `, last used ${formatDate(p.lastUsedAt)}` : ''}
              </span>{' '}
              <Button variant="link" busy={busy === p.id} busyLabel="Removing…" onClick={() => void remove(p)}>
                Remove
              </Button>
            </li>
          ))}
        </ul>
      ) : null}
      {supported ? (
        <form onSubmit={add} noValidate aria-busy={busy === 'add'} className="section-form">
          <Field id="passkey-label" name="label" label="Name (optional)" maxLength={64} placeholder="e.g. Laptop" value={label} onChange={(e) => setLabel(e.target.value)} error={fields.label} />
          <SubmitButton busy={busy === 'add'} busyLabel="Waiting for your device…">
            Add a passkey
          </SubmitButton>
        </form>
      ) : (
        <p className="muted">This browser cannot make passkeys.</p>
      )}
    </section>
  );
}
