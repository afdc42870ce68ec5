import { Client } from 'pg';

export interface AccountCount {
  /** Rows per normalised email (trimmed, lower-cased), for every row whose email starts with the prefix. */
  rows: Map<string, { count: number; names: string[]; signupRefs: string[] }>;
  total: number;
}

/**
 * What Postgres really holds for a scenario's emails. The unique index makes an exact duplicate
 * impossible, so duplicates are looked for under normalisation (case, surrounding spaces) too.
 */
export async function accountsWithPrefix(databaseUrl: string, prefix: string): Promise<AccountCount> {
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000, statement_timeout: 10_000 });
  await client.connect();
  try {
    const res = await client.query<{ email: string; name: string; signup_ref: string }>(
      `SELECT lower(trim(email)) AS email, name, signup_ref FROM users WHERE lower(trim(email)) LIKE $1 || '%' ORDER BY created_at`,
      [prefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)],
    );
    const rows = new Map<string, { count: number; names: string[]; signupRefs: string[] }>();
    for (const r of res.rows) {
      const entry = rows.get(r.email) ?? { count: 0, names: [], signupRefs: [] };
      entry.count += 1;
      entry.names.push(r.name);
      entry.signupRefs.push(r.signup_ref);
      rows.set(r.email, entry);
    }
    return { rows, total: res.rows.length };
  } finally {
    await client.end().catch(() => undefined);
  }
}
