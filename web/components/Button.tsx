import type { ButtonHTMLAttributes } from 'react';

type Props = ButtonHTMLAttributes<HTMLButtonElement> & {
  busy: boolean;
  busyLabel: string;
  variant?: 'primary' | 'secondary' | 'danger' | 'link';
};

/** A button that shows a spinner and a busy label and cannot be pressed again while its request is in flight. */
export function Button({ busy, busyLabel, variant = 'primary', disabled, children, className, type = 'button', ...rest }: Props) {
  return (
    <button
      type={type}
      className={`btn btn-${variant}${className ? ` ${className}` : ''}`}
      disabled={busy || disabled}
      aria-busy={busy || undefined}
      {...rest}
    >
      {busy ? (
        <>
          <span className="spinner" aria-hidden="true" />
          {busyLabel}
        </>
      ) : (
        children
      )}
    </button>
  );
}

export function SubmitButton(props: Omit<Props, 'type'>) {
  return <Button type="submit" {...props} />;
}
