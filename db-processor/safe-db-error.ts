/**
 * What may be logged about a failed database call. MikroORM and pg put the SQL with its parameter
 * values (emails, names, hashes) into `message` and `detail`, and some pg messages quote the
 * offending value; so only the class, the SQLSTATE and the names of the schema objects involved
 * reach a log line.
 */
export function safeDbError(err: unknown): Record<string, string | undefined> {
  const e = (err ?? {}) as { name?: unknown; code?: unknown; sqlState?: unknown; constraint?: unknown; table?: unknown; routine?: unknown };
  const str = (v: unknown) => (typeof v === 'string' && /^[A-Za-z0-9_.]{1,64}$/.test(v) ? v : undefined);
  return {
    name: str(e.name) ?? 'Error',
    code: str(e.code) ?? str(e.sqlState),
    constraint: str(e.constraint),
    table: str(e.table),
    routine: str(e.routine),
  };
}
