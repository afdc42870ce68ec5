import { Field } from './Field';

/** An email input (signup, signin, forgot, a new address): one place for its autocomplete and keyboard hints. */
export function EmailField({
  value,
  onChange,
  error,
  id = 'email',
  name = 'email',
  label = 'Email',
  autoFocus = true,
}: {
  value: string;
  onChange: (value: string) => void;
  error?: string;
  id?: string;
  name?: string;
  label?: string;
  autoFocus?: boolean;
}) {
  return (
    <Field
      id={id}
      name={name}
      label={label}
      type="email"
      autoComplete="email"
      inputMode="email"
      autoCapitalize="none"
      spellCheck={false}
      required
      autoFocus={autoFocus}
      value={value}
      onChange={(e) => onChange(e.target.value)}
      error={error}
    />
  );
}
