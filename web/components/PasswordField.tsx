'use client';

import { useState, type ComponentProps } from 'react';
import { Field } from './Field';

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
