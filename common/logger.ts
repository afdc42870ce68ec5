import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths that must never reach a log line, whatever a caller passes. */
const REDACT = [
  'password', '*.password', 'otp', '*.otp', 'passwordHash', '*.passwordHash',
  'passwordSealed', '*.passwordSealed', 'token', '*.token', 'req.headers.cookie', 'req.headers.authorization',
  'res.headers["set-cookie"]',
];

/** `destination`: where the JSON lines go (standard output unless a test reads them). */
export function createLogger(processName: string, level = process.env.LOG_LEVEL ?? 'info', destination?: pino.DestinationStream): Logger {
  const options = {
    level,
    base: { process: processName, pid: process.pid },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
