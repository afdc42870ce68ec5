export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading-page" role="status" aria-live="polite">
      <span className="spinner spinner-lg" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}
