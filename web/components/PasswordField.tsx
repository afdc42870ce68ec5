'use client';

import { useState, type ComponentProps } from 'react';
import { Field } from './Field';
import { MIN_PASSWORD } from '@/lib/validate';

/** A password input with a "Show" toggle (a real button, reachable by keyboard). */
export function PasswordField(props: Omit<ComponentProps<typeof Field>, 'type' | 'adornment'>) {
  const [visible, setVisible] = useState(false);
  return (
    <Field
      {...props}
      type={visible ? 'text' : 'password'}
      autoCapitalize="none"
      spellCheck={false}
      className="input-with-toggle"
      adornment={
        <button
          type="button"
          className="password-toggle"
          aria-controls={props.id}
          aria-label={visible ? 'Hide password' : 'Show password'}
          onClick={() => setVisible((v) => !v)}
        >
          {visible ? 'Hide' : 'Show'}
        </button>
      }
    />
  );
}

type PasswordProps = { id: string; name?: string; label: string; value: string; onChange: (value: string) => void; error?: string };

/** The password a person already has (sign-in, and to confirm a change): `current-password` autofill. */
export function CurrentPasswordField({ id, name = 'password', label, value, onChange, error }: PasswordProps) {
  return (
    <PasswordField
      id={id}
      name={name}
      label={label}
      autoComplete="current-password"
      required
      value={value}
      onChange={(e) => onChange(e.target.value)}
      error={error}
    />
  );
}

/** A password being chosen (signup, reset, change): `new-password` autofill, the length rule as its hint. */
export function NewPasswordField({ id, name = 'password', label, value, onChange, error }: PasswordProps) {
  return (
    <PasswordField
      id={id}
      name={name}
      label={label}
      autoComplete="new-password"
      required
      minLength={MIN_PASSWORD}
      value={value}
      onChange={(e) => onChange(e.target.value)}
      error={error}
      hint={`At least ${MIN_PASSWORD} characters. A few unrelated words make a strong, memorable password.`}
    />
  );
}
