import type { ReactNode, Ref } from 'react';

/**
 * The centred card every signed-out page is laid out in. `headingRef` makes the heading focusable
 * from script, for pages whose content changes in place (focus goes to the new title).
 */
export function AuthCard({
  title,
  intro,
  children,
  footer,
  headingRef,
}: {
  title: string;
  intro?: ReactNode;
  children: ReactNode;
  footer?: ReactNode;
  headingRef?: Ref<HTMLHeadingElement>;
}) {
  return (
    <section className="card auth-card" aria-labelledby="page-title">
      <h1 id="page-title" ref={headingRef} tabIndex={headingRef ? -1 : undefined}>
        {title}
      </h1>
      {intro ? <div className="intro">{intro}</div> : null}
      {children}
      {footer ? <div className="card-footer">{footer}</div> : null}
    </section>
  );
}
