import nodemailer, { type Transporter } from 'nodemailer';
import type { Config } from './config';

/** An SMTP transport and the sender address of every mail. */
export interface Mailer {
  transport: Transporter;
  from: string;
}

/** The longest one SMTP send can take before its socket gives up (the worker's shutdown grace covers it). */
export const SMTP_SEND_TIMEOUT_MS = 15_000;

/**
 * Pooled SMTP transport. Short socket timeouts: a stalled server fails the attempt quickly and
 * Temporal's retry schedule takes over, instead of an activity hanging until its own timeout.
 * The pool has as many connections as the worker has activity slots (MAIL_CONCURRENCY), so a send
 * never queues inside an activity, times out there and is retried while the first copy goes out.
 */
export function createMailer(config: Config): Mailer {
  const transport = nodemailer.createTransport(config.SMTP_URL, {
    pool: true,
    maxConnections: config.MAIL_CONCURRENCY,
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: SMTP_SEND_TIMEOUT_MS,
  } as nodemailer.TransportOptions);
  return { transport, from: config.MAIL_FROM };
}
