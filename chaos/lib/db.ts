import { Client } from 'pg';

export interface AccountCount {
  /** Rows per normalised email (trimmed, lower-cased), for every row whose email starts with the prefix. */
  rows: Map<string, { count: number; names: string[]; signupRefs: string[]; ids: string[] }>;
  total: number;
}

async function withClient<T>(databaseUrl: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000, statement_timeout: 10_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * What Postgres really holds for a scenario's emails. The unique index makes an exact duplicate
 * impossible, so duplicates are looked for under normalisation (case, surrounding spaces) too.
 */
export function accountsWithPrefix(databaseUrl: string, prefix: string): Promise<AccountCount> {
  return withClient(databaseUrl, async (client) => {
    const res = await client.query<{ id: string; email: string; name: string; signup_ref: string }>(
      `SELECT id, lower(trim(email)) AS email, name, signup_ref FROM users WHERE lower(trim(email)) LIKE $1 || '%' ORDER BY created_at`,
      [prefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)],
    );
    const rows: AccountCount['rows'] = new Map();
    for (const r of res.rows) {
      const entry = rows.get(r.email) ?? { count: 0, names: [], signupRefs: [], ids: [] };
      entry.count += 1;
      entry.names.push(r.name);
      entry.signupRefs.push(r.signup_ref);
      entry.ids.push(r.id);
      rows.set(r.email, entry);
    }
    return { rows, total: res.rows.length };
  });
}

/** The rows of these users (by id): their address now, and whether they are closed. */
export function usersById(databaseUrl: string, ids: string[]): Promise<Map<string, { email: string; closed: boolean }>> {
  return withClient(databaseUrl, async (client) => {
    const res = await client.query<{ id: string; email: string; closed: boolean }>('SELECT id, email, closed_at IS NOT NULL AS closed FROM users WHERE id = ANY($1::uuid[])', [ids]);
    return new Map(res.rows.map((r) => [r.id, { email: r.email, closed: r.closed }]));
  });
}
