/**
 * The "direct" peer: the plain Express + pg + bcrypt + nodemailer server a team would write without
 * Kafka and Temporal. Same routes and bodies as ours (base /api/v1/auth), same bcrypt cost, same
 * Postgres server (database cfd_auth_bench, tables direct_*) and the same Redis (sessions under
 * `dsess:`). Signup mails the code inline and answers after SMTP, as the original system did.
 *
 * Env: PORT, DATABASE_URL, REDIS_URL, SMTP_URL, MAIL_FROM, BCRYPT_COST, RESET_DB=1 (truncate its
 * tables at start). Ready when GET /health/ready answers 200.
 */
import bcrypt from 'bcrypt';
import cookieParser from 'cookie-parser';
import express, { type NextFunction, type Request, type Response } from 'express';
import Redis from 'ioredis';
import { createHash, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import nodemailer from 'nodemailer';
import { Pool } from 'pg';
import { serveUntilStopped } from '../serve';

const env = process.env;
const PORT = Number(env.PORT ?? 3111);
const COST = Number(env.BCRYPT_COST ?? 12);
const SESSION_TTL_S = 7 * 24 * 3600;
const CODE_TTL_MS = 10 * 60_000;
const COOKIE = 'auth_token';

const pool = new Pool({ connectionString: env.DATABASE_URL ?? 'postgres://cfd_auth:cfd_auth@127.0.0.1:5432/cfd_auth_bench', max: 10 });
const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 });
// What a team writes first: one transport from a URL, no pool, nodemailer's default timeouts.
const mailer = nodemailer.createTransport(env.SMTP_URL ?? 'smtp://127.0.0.1:1025');
const FROM = env.MAIL_FROM ?? 'Direct Baseline <no-reply@direct.local>';

let dummyHash = '';

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,189}\.[^\s@]{2,}$/;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string) {
    super(code);
  }
}

function email(v: unknown): string {
  if (typeof v !== 'string' || v.length > 254 || !EMAIL.test(v.trim())) throw new HttpError(400, 'VALIDATION_FAILED');
  return v.trim().toLowerCase();
}
function str(v: unknown, min: number, max: number): string {
  if (typeof v !== 'string' || v.length < min || v.length > max) throw new HttpError(400, 'VALIDATION_FAILED');
  return v;
}

async function schema(reset: boolean) {
  await pool.query(`
    create table if not exists direct_users (
      id uuid primary key,
      email varchar(254) not null unique,
      name varchar(100) not null,
      password_hash varchar(100) not null,
      created_at timestamptz not null default now()
    );
    create table if not exists direct_codes (
      email varchar(254) primary key,
      code_hash char(64) not null,
      expires_at timestamptz not null,
      attempts int not null default 0
    );`);
  if (reset) await pool.query('truncate direct_users, direct_codes');
}

interface Profile {
  id: string;
  email: string;
  name: string;
  createdAt: string;
}

async function createSession(res: Response, user: Profile) {
  const sid = randomBytes(32).toString('base64url');
  await redis.set(`dsess:${sid}`, JSON.stringify(user), 'EX', SESSION_TTL_S);
  res.cookie(COOKIE, sid, { httpOnly: true, sameSite: 'lax', path: '/', maxAge: SESSION_TTL_S * 1000 });
}

function sidOf(req: Request): string | undefined {
  const c = (req.cookies as Record<string, string> | undefined)?.[COOKIE];
  if (c) return c;
  const h = req.get('authorization');
  return h?.startsWith('Bearer ') ? h.slice(7) : undefined;
}

const wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => fn(req, res).catch(next);

const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '16kb' }));
app.use(cookieParser());

app.get('/health/ready', wrap(async (_req, res) => {
  await Promise.all([pool.query('select 1'), redis.ping()]);
  res.json({ status: 'ready' });
}));

const r = express.Router();

r.post('/signup', wrap(async (req, res) => {
  const to = email(req.body?.email);
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  await pool.query(
    `insert into direct_codes (email, code_hash, expires_at, attempts) values ($1, $2, $3, 0)
     on conflict (email) do update set code_hash = excluded.code_hash, expires_at = excluded.expires_at, attempts = 0`,
    [to, sha256(`${to}:${code}`), new Date(Date.now() + CODE_TTL_MS)],
  );
  // Inline: the answer waits for SMTP.
  await mailer.sendMail({
    from: FROM,
    to,
    subject: 'Your verification code',
    text: `Your verification code is ${code}\n\nIt expires in 10 minutes.`,
  });
  res.status(202).json({ message: 'If this email can be used, a verification code is on its way.' });
}));

r.post('/verify', wrap(async (req, res) => {
  const to = email(req.body?.email);
  const otp = str(req.body?.otp, 6, 6);
  const password = str(req.body?.password, 8, 72);
  const name = str(req.body?.name, 1, 100);
  const { rows } = await pool.query('select code_hash, expires_at, attempts from direct_codes where email = $1', [to]);
  const row = rows[0] as { code_hash: string; expires_at: Date; attempts: number } | undefined;
  if (!row || row.expires_at.getTime() < Date.now() || row.attempts >= 5) throw new HttpError(400, 'CODE_EXPIRED');
  if (!timingSafeEqual(Buffer.from(row.code_hash), Buffer.from(sha256(`${to}:${otp}`)))) {
    await pool.query('update direct_codes set attempts = attempts + 1 where email = $1', [to]);
    throw new HttpError(400, 'INVALID_CODE');
  }
  const passwordHash = await bcrypt.hash(password, COST);
  const user: Profile = { id: randomUUID(), email: to, name, createdAt: new Date().toISOString() };
  const client = await pool.connect();
  try {
    await client.query('begin');
    const del = await client.query('delete from direct_codes where email = $1 and code_hash = $2', [to, row.code_hash]);
    if (del.rowCount !== 1) throw new HttpError(400, 'CODE_EXPIRED');
    await client.query('insert into direct_users (id, email, name, password_hash, created_at) values ($1, $2, $3, $4, $5)', [
      user.id, to, name, passwordHash, user.createdAt,
    ]);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    if ((err as { code?: string }).code === '23505') throw new HttpError(409, 'EMAIL_TAKEN');
    throw err;
  } finally {
    client.release();
  }
  await createSession(res, user);
  res.status(201).json({ message: 'Verified.', user: { id: user.id, email: user.email, name: user.name } });
}));

r.post('/signin', wrap(async (req, res) => {
  const to = email(req.body?.email);
  const password = str(req.body?.password, 1, 72);
  const { rows } = await pool.query('select id, email, name, password_hash, created_at from direct_users where email = $1', [to]);
  const u = rows[0] as { id: string; email: string; name: string; password_hash: string; created_at: Date } | undefined;
  // Unknown emails cost one compare too.
  const ok = await bcrypt.compare(password, u?.password_hash ?? dummyHash);
  if (!u || !ok) throw new HttpError(401, 'INVALID_CREDENTIALS');
  const user: Profile = { id: u.id, email: u.email, name: u.name, createdAt: u.created_at.toISOString() };
  await createSession(res, user);
  res.status(200).json({ message: 'Signed in.', user: { id: user.id, email: user.email, name: user.name } });
}));

r.get('/me', wrap(async (req, res) => {
  const sid = sidOf(req);
  const raw = sid ? await redis.get(`dsess:${sid}`) : null;
  if (!raw) throw new HttpError(401, 'UNAUTHENTICATED');
  res.status(200).json({ user: JSON.parse(raw) as Profile });
}));

r.post('/logout', wrap(async (req, res) => {
  const sid = sidOf(req);
  if (sid) await redis.del(`dsess:${sid}`);
  res.clearCookie(COOKIE, { path: '/' });
  res.status(204).end();
}));

app.use('/api/v1/auth', r);
app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
  if (err instanceof HttpError) return void res.status(err.status).json({ code: err.code });
  const status = (err as { status?: number }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) return void res.status(status).json({ code: 'BAD_REQUEST' });
  res.status(500).json({ code: 'INTERNAL' });
});

async function main() {
  await schema(env.RESET_DB === '1');
  dummyHash = await bcrypt.hash(randomBytes(16).toString('hex'), COST);
  serveUntilStopped(app, PORT, () => {
    mailer.close();
    redis.disconnect();
    return pool.end();
  });
}

main().catch((err) => {
  process.stderr.write(`direct baseline failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
