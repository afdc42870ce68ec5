import type { ReactNode } from 'react';

/** The centred card every signed-out page is laid out in. */
export function AuthCard({ title, intro, children, footer }: { title: string; intro?: ReactNode; children: ReactNode; footer?: ReactNode }) {
  return (
    <section className="card auth-card" aria-labelledby="page-title">
      <h1 id="page-title">{title}</h1>
      {intro ? <div className="intro">{intro}</div> : null}
      {children}
      {footer ? <div className="card-footer">{footer}</div> : null}
    </section>
  );
}
