import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../common/config';
import { useTempDirs } from '../../testkit/temp-dir';
import { dotenvAdditions, parseDotenv } from '../../common/env-file';

const tempDir = useTempDirs();


const ROOT = path.resolve(__dirname, '../..');

function tempEnvFile(text: string): string {
  const dir = tempDir('cfd-env-');
  const file = path.join(dir, '.env');
  writeFileSync(file, text);
  return file;
}

describe('the .env loader (dotenv semantics)', () => {
  it('drops an inline comment after an unquoted value and the spaces before it', () => {
    expect(parseDotenv('NODE_ENV=development   # development | test | production\n')).toEqual({ NODE_ENV: 'development' });
  });

  it('keeps # and spaces inside quotes, expands \\n in double quotes only, accepts export', () => {
    const parsed = parseDotenv(
      [
        `A="a # not a comment"  # a comment`,
        `B='  padded  '`,
        `C="line1\\nline2"`,
        `D='raw\\n'`,
        `export E=exported`,
        `F=CFD Broker <no-reply@cfd-broker.local>`,
        `# G=commented out`,
        `H=`,
      ].join('\r\n'),
    );
    expect(parsed).toEqual({
      A: 'a # not a comment',
      B: '  padded  ',
      C: 'line1\nline2',
      D: 'raw\\n',
      E: 'exported',
      F: 'CFD Broker <no-reply@cfd-broker.local>',
      H: '',
    });
  });

  it('lets the environment win and treats an empty value as unset', () => {
    const file = tempEnvFile('LOG_LEVEL=debug\nAPI_PORT=4000\nTEMPORAL_TASK_QUEUE=\n');
    expect(dotenvAdditions({ API_PORT: '5000' }, file)).toEqual({ LOG_LEVEL: 'debug' });
  });

  it('when .env.example is copied to .env, the config equals the defaults', () => {
    const file = tempEnvFile(require('node:fs').readFileSync(path.join(ROOT, '.env.example'), 'utf8'));
    const fromExample = loadConfig(dotenvAdditions({}, file));
    expect(fromExample).toEqual(loadConfig({ NODE_ENV: 'development' }));
  });

  it('loadConfig() without arguments reads the .env of CFD_ENV_FILE, the environment winning', () => {
    const file = tempEnvFile('LOG_LEVEL=debug   # louder\nAPI_PORT=4000\n');
    const script = `const { loadConfig } = require('./common/config'); const c = loadConfig(); console.log(JSON.stringify([c.LOG_LEVEL, c.API_PORT, process.env.LOG_LEVEL]));`;
    const out = require('node:child_process').execFileSync(
      process.execPath,
      [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), '-e', script],
      { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, CFD_ENV_FILE: file, API_PORT: '4100', NODE_ENV: 'development' }, encoding: 'utf8' },
    );
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual(['debug', 4100, 'debug']);
  });
});
