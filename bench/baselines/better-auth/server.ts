/**
 * The "better-auth" peer: better-auth with its email-OTP plugin on Express, bcrypt at the same cost
 * (its password hash/verify hooks), on the same Postgres server (database cfd_auth_bench, its own
 * tables, created with its programmatic migrations) and the same Redis (secondary storage: sessions
 * live in Redis, as ours do). Its own rate limiter is off, as ours is for the benchmark.
 *
 * Flow mapped onto ours:
 *   signup  POST /api/auth/email-otp/send-verification-otp {email, type: "sign-in"}
 *           The OTP is mailed without awaiting SMTP, as better-auth's documentation recommends.
 *   verify  POST /bench/verify {email, otp, password, name}: auth.api.signInEmailOTP (creates the
 *           user and a session) then auth.api.setPassword (bcrypt hash): what a team using
 *           better-auth writes for "code, then name and password".
 *   signin  POST /api/auth/sign-in/email {email, password}
 *   me      GET  /api/auth/get-session
 *   logout  POST /api/auth/sign-out
 *
 * With secondary storage, better-auth keeps sessions and OTPs in Redis; Postgres holds "user" and
 * "account" only.
 *
 * Env: PORT, DATABASE_URL, REDIS_URL, SMTP_URL, BCRYPT_COST, RESET_DB=1.
 */
import bcrypt from 'bcrypt';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';
import { emailOTP } from 'better-auth/plugins';
import express from 'express';
import Redis from 'ioredis';
import nodemailer from 'nodemailer';
import { Pool } from 'pg';
import { serveUntilStopped } from '../serve';

const env = process.env;
const PORT = Number(env.PORT ?? 3121);
const COST = Number(env.BCRYPT_COST ?? 12);
const BASE_URL = `http://127.0.0.1:${PORT}`;

const pool = new Pool({ connectionString: env.DATABASE_URL ?? 'postgres://cfd_auth:cfd_auth@127.0.0.1:5432/cfd_auth_bench', max: 10 });
const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: 1, keyPrefix: 'ba:' });
const mailer = nodemailer.createTransport(env.SMTP_URL ?? 'smtp://127.0.0.1:1025');

const INCR_WITH_TTL = `local v = redis.call('INCR', KEYS[1]) if v == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return v`;

const options = {
  appName: 'bench-better-auth',
  baseURL: BASE_URL,
  secret: env.BETTER_AUTH_SECRET ?? 'bench-only-better-auth-secret-0123456789abcdef',
  trustedOrigins: [BASE_URL],
  database: pool,
  telemetry: { enabled: false },
  rateLimit: { enabled: false },
  secondaryStorage: {
    get: (key: string) => redis.get(key),
    getAndDelete: (key: string) => redis.getdel(key),
    increment: async (key: string, ttl: number) => Number(await redis.eval(INCR_WITH_TTL, 1, key, ttl)),
    set: async (key: string, value: string, ttl?: number) => {
      if (ttl) await redis.set(key, value, 'EX', ttl);
      else await redis.set(key, value);
    },
    delete: async (key: string) => {
      await redis.del(key);
    },
  },
  emailAndPassword: {
    enabled: true,
    minPasswordLength: 8,
    maxPasswordLength: 72,
    password: {
      hash: (password: string) => bcrypt.hash(password, COST),
      verify: ({ hash, password }: { hash: string; password: string }) => bcrypt.compare(password, hash),
    },
  },
  plugins: [
    emailOTP({
      otpLength: 6,
      expiresIn: 600,
      async sendVerificationOTP({ email, otp }) {
        // Not awaited: better-auth's documentation recommends it (timing), so the answer never waits for SMTP.
        void mailer
          .sendMail({ from: 'Better Auth Peer <no-reply@better-auth.local>', to: email, subject: 'Your verification code', text: `Your verification code is ${otp}\n\nIt expires in 10 minutes.` })
          .catch((err: Error) => process.stderr.write(`better-auth peer: mail to ${email} failed: ${err.message}\n`));
      },
    }),
  ],
} satisfies Parameters<typeof betterAuth>[0];

const auth = betterAuth(options);

function cookiePairs(setCookie: string[]): string {
  return setCookie.map((c) => c.split(';')[0]).join('; ');
}

const app = express();
app.disable('x-powered-by');
app.get('/health/ready', (_req, res, next) => {
  Promise.all([pool.query('select 1'), redis.ping()]).then(() => res.json({ status: 'ready' }), next);
});

// Not under /api/auth: better-auth's handler must see the raw body, so json() is mounted here only.
app.post('/bench/verify', express.json(), async (req, res) => {
  const { email, otp, password, name } = (req.body ?? {}) as Record<string, string>;
  if (typeof password !== 'string' || password.length < 8 || password.length > 72) return void res.status(400).json({ code: 'WEAK_PASSWORD' });
  try {
    const signedIn = await auth.api.signInEmailOTP({ body: { email, otp, name }, headers: new Headers(), returnHeaders: true });
    const setCookie = signedIn.headers.getSetCookie();
    await auth.api.setPassword({ body: { newPassword: password }, headers: new Headers({ cookie: cookiePairs(setCookie) }) });
    res.setHeader('set-cookie', setCookie);
    res.status(201).json({ user: signedIn.response.user });
  } catch (err) {
    const e = err as { statusCode?: number; status?: number | string; body?: { code?: string } };
    const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
    res.status(status).json({ code: e.body?.code ?? 'ERROR' });
  }
});

app.all('/api/auth/*splat', toNodeHandler(auth));

async function main() {
  const { runMigrations } = await getMigrations(options);
  await runMigrations();
  if (env.RESET_DB === '1') await pool.query('truncate "account", "user" cascade');
  serveUntilStopped(app, PORT, () => {
    mailer.close();
    redis.disconnect();
    return pool.end();
  });
}

main().catch((err) => {
  process.stderr.write(`better-auth peer failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
