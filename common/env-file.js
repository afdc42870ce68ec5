'use strict';
/**
 * The one .env loader of the project, in plain JavaScript with no dependencies so that the shell
 * scripts (scripts/lib/env.sh, before `npm ci` has run) and the TypeScript processes (through
 * common/config.ts, in tsx, jest and the compiled image alike) parse the file the same way.
 *
 * Semantics are dotenv's (the `dotenv` package, v16): `KEY=value`, optional `export `, `#` starts a
 * comment outside quotes (so `KEY=value   # note` is `value`), single, double or backtick quotes
 * keep `#` and surrounding spaces, double quotes expand \n and \r, quoted values may span lines.
 * Two project rules on top: the environment wins over the file, and an empty value means "not set"
 * (the default applies), which is how .env.example leaves optional settings open.
 */
const fs = require('node:fs');
const path = require('node:path');

// dotenv 16's LINE expression (lib/main.js), kept verbatim so the semantics are dotenv's own.
const LINE =
  /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/gm;

/** Parses .env text into an object (later lines win, as in dotenv). */
function parseDotenv(text) {
  const out = {};
  const lines = String(text).replace(/\r\n?/gm, '\n');
  let m;
  LINE.lastIndex = 0;
  while ((m = LINE.exec(lines)) != null) {
    const key = m[1];
    let value = (m[2] || '').trim();
    const quote = value[0];
    value = value.replace(/^(['"`])([\s\S]*)\1$/gm, '$2');
    if (quote === '"') value = value.replace(/\\n/g, '\n').replace(/\\r/g, '\r');
    out[key] = value;
  }
  return out;
}

/** The .env file of this checkout: $CFD_ENV_FILE, else `.env` beside the nearest package.json. */
function defaultEnvFile(env = process.env) {
  if (env.CFD_ENV_FILE) return path.resolve(env.CFD_ENV_FILE);
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) return path.resolve('.env');
    dir = up;
  }
  return path.join(dir, '.env');
}

/** Reads and parses a .env file; a missing file is an empty one. */
function readDotenv(file) {
  try {
    return parseDotenv(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if (err && err.code === 'ENOENT') return {};
    throw err;
  }
}

/**
 * The values a .env file adds to `env`: every non-empty value whose key the environment does not
 * already define. Does not modify `env`.
 */
function dotenvAdditions(env = process.env, file = defaultEnvFile(env)) {
  const add = {};
  for (const [key, value] of Object.entries(readDotenv(file))) {
    if (value !== '' && env[key] === undefined) add[key] = value;
  }
  return add;
}

let applied = false;
/** Adds the .env values to process.env once per process (the environment wins). */
function applyDotenv() {
  if (applied) return;
  applied = true;
  Object.assign(process.env, dotenvAdditions(process.env));
}

module.exports = { parseDotenv, readDotenv, defaultEnvFile, dotenvAdditions, applyDotenv };

// `node common/env-file.js --nul <file>`: for scripts/lib/env.sh, prints what the file adds to the
// current environment as NUL-separated KEY, VALUE pairs (no quoting, no eval on the shell side).
// Keys a shell cannot hold are reported and skipped.
if (require.main === module) {
  const [flag, file] = process.argv.slice(2);
  if (flag !== '--nul' || !file) {
    process.stderr.write('usage: node common/env-file.js --nul <.env file>\n');
    process.exit(2);
  }
  let out = '';
  for (const [key, value] of Object.entries(dotenvAdditions(process.env, file))) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      process.stderr.write(`${file}: skipping ${key} (not a shell variable name)\n`);
      continue;
    }
    out += `${key}\0${value}\0`;
  }
  process.stdout.write(out);
}
