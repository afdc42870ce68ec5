import nodemailer from 'nodemailer';
import type { Config } from './config';
import type { Mailer } from '../activities/email.activities';

/**
 * Pooled SMTP transport. Short socket timeouts: a stalled server fails the attempt quickly and
 * Temporal's retry schedule takes over, instead of an activity hanging until its own timeout.
 */
export function createMailer(config: Config): Mailer {
  const transport = nodemailer.createTransport(config.SMTP_URL, {
    pool: true,
    maxConnections: 5,
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 15000,
  } as nodemailer.TransportOptions);
  return { transport, from: config.MAIL_FROM };
}
