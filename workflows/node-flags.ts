/**
 * Node flags the worker process runs with, in every launcher: scripts/start.sh, `npm run worker`,
 * docker-compose and the bench (test/unit/project-files.test.ts keeps them in step).
 *
 * `--max-semi-space-size`: the young generation of each V8 heap in the process, the main thread's
 * and the workflow thread's. V8's default here is 16 MB per semi-space; with it, each heap stood at
 * 200-230 MB during a minute of signups, against 100-140 MB with 4 (bench/README.md, "Memory"). Flags
 * given on the command line reach the workflow thread too.
 */
export const WORKER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
