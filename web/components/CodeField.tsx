import type { ReactNode } from 'react';
import { Field } from './Field';

/**
 * The 6-digit code from an email: numeric keypad, one-time-code autofill, digits only (anything else
 * typed or pasted is dropped), focused when it appears.
 */
export function CodeField({
  id,
  name,
  label,
  value,
  onChange,
  error,
  hint,
}: {
  id: string;
  name: string;
  label: string;
  value: string;
  onChange: (digits: string) => void;
  error?: string;
  hint?: ReactNode;
}) {
  return (
    <Field
      id={id}
      name={name}
      label={label}
      type="text"
      inputMode="numeric"
      autoComplete="one-time-code"
      pattern="[0-9]*"
      maxLength={6}
      required
      autoFocus
      className="input-code"
      value={value}
      onChange={(e) => onChange(e.target.value.replace(/\D/g, '').slice(0, 6))}
      error={error}
      hint={hint}
    />
  );
}
