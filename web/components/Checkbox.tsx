import type { InputHTMLAttributes, ReactNode } from 'react';

type Props = Omit<InputHTMLAttributes<HTMLInputElement>, 'id' | 'name' | 'type'> & {
  id: string;
  name: string;
  label: ReactNode;
  error?: string;
};

/** A checkbox with its label beside it and an inline error tied to it with aria-describedby. */
export function Checkbox({ id, name, label, error, ...input }: Props) {
  const errorId = error ? `${id}-error` : undefined;
  return (
    <div className={`field check${error ? ' check-invalid' : ''}`}>
      <input id={id} name={name} type="checkbox" aria-invalid={error ? true : undefined} aria-describedby={errorId} {...input} />
      <div>
        <label htmlFor={id}>{label}</label>
        {error ? (
          <p id={errorId} className="field-error">
            {error}
          </p>
        ) : null}
      </div>
    </div>
  );
}
