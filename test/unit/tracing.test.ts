import { scrubSql } from '../../common/tracing';

describe('scrubSql (pg span statements)', () => {
  it('replaces every string literal MikroORM inlines, quoted quotes, E-strings and dollar quotes included', () => {
    const sql = `insert into "users" ("email", "name", "password_hash") values ('a.b@example.com', 'O''Brien', E'back\\\\slash \\' quote', 'C:\\', 'after', $$dollar$$, $t$tagged$t$, 42)`;
    const out = scrubSql(sql);
    expect(out).toBe(`insert into "users" ("email", "name", "password_hash") values ('?', '?', '?', '?', '?', '?', '?', 42)`);
    for (const leaked of ['example.com', 'Brien', 'slash', 'after', 'dollar', 'tagged']) expect(out).not.toContain(leaked);
  });

  it('leaves identifiers, placeholders and numbers', () => {
    expect(scrubSql('select "u0".* from "users" as "u0" where "u0"."id" = $1 limit 1')).toBe('select "u0".* from "users" as "u0" where "u0"."id" = $1 limit 1');
  });
});
