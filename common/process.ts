import { loadConfig, type Config } from './config';
import { createLogger, type Logger } from './logger';
import { shutdownTracing } from './tracing';

/**
 * The entry of every process: parse the config once, start, stop cleanly on SIGINT/SIGTERM, and
 * exit 1 with one log line when start-up fails.
 */
export function runProcess(name: string, start: (config: Config, logger: Logger) => Promise<{ close(): Promise<void> }>): void {
  const main = async () => {
    const config = loadConfig();
    const logger = createLogger(name, config.LOG_LEVEL);
    const handle = await start(config, logger);
    const stop = async (signal: string) => {
      logger.info({ signal }, `${name} stopping`);
      await handle.close();
      await shutdownTracing();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  };
  main().catch((err) => {
    createLogger(name).fatal({ err: { name: err?.name, message: err?.message } }, `${name} failed to start`);
    process.exit(1);
  });
}
