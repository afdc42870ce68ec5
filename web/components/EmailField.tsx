import { Field } from './Field';

/** The email input of the signup and signin forms: one place for its autocomplete and keyboard hints. */
export function EmailField({ value, onChange, error }: { value: string; onChange: (value: string) => void; error?: string }) {
  return (
    <Field
      id="email"
      name="email"
      label="Email"
      type="email"
      autoComplete="email"
      inputMode="email"
      autoCapitalize="none"
      spellCheck={false}
      required
      autoFocus
      value={value}
      onChange={(e) => onChange(e.target.value)}
      error={error}
    />
  );
}
