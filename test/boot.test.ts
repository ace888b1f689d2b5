// Boot: bad settings and broken apps stop boot with one clear line; .env is loaded quietly.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { fixture, runDrover, startDrover } from './helpers/server.js';

for (const [name, value, expected] of [
  ['PORT', 'abc', 'an integer from 0 to 65535'],
  ['PORT', '70000', 'an integer from 0 to 65535'],
  ['WEB_CONCURRENCY', '-1', 'an integer from 1 to 1024'],
  ['WEB_CONCURRENCY', '0', 'an integer from 1 to 1024'],
  ['LOG_LEVEL', 'loud', 'one of fatal, error, warn, info, debug, trace, silent'],
  ['DEBUG', 'maybe', 'one of true, false'],
  ['METRICS_PORT', 'x', 'an integer from 0 to 65535'],
] as const) {
  t.test(`${name}=${value} stops boot`, async (t) => {
    const { code, stdout, stderr } = await runDrover(['serve'], { [name]: value });
    t.not(code, 0);
    t.equal(stdout, '', 'nothing listened, nothing logged');
    const lines = stderr.trim().split('\n');
    t.equal(lines.length, 1, 'one line');
    t.match(lines[0], `DROVER_ERR_SETTINGS_INVALID: setting ${name}="${value}" is invalid: expected ${expected}`);
  });
}

t.test('an app that fails to import stops boot with its own message, the code once, and its stack', async (t) => {
  const { code, stdout, stderr } = await runDrover(['serve', fixture('broken-import.js')]);
  t.equal(code, 1);
  const [first, ...frames] = stderr.trim().split('\n');
  t.match(first, /^drover: DROVER_ERR_APP_IMPORT: cannot load the app module .*broken-import\.js: DATABASE_URL is not set; cannot configure the orders app$/);
  t.equal(stderr.match(/DROVER_ERR_APP_IMPORT/g)?.length, 1, 'the code once');
  t.match(frames[0], /^\s+at .*broken-import\.js:\d+:\d+/, "the app's own frame, file:line");
  t.notMatch(stderr, /node:internal|dist\/src\//, "no Node or drover frames");
  t.notMatch(stdout, /listening/);
});

t.test('an app without a route table says what to export', async (t) => {
  const { code, stderr } = await runDrover(['serve', fixture('not-a-table.js')]);
  t.equal(code, 1);
  t.match(stderr, /DROVER_ERR_APP_ROUTES: the app module .*not-a-table\.js must `export default` an array of routes .*found no default export/);
});

t.test('a missing app file is named', async (t) => {
  const { code, stderr } = await runDrover(['serve', 'no/such/app.js']);
  t.equal(code, 1);
  t.match(stderr, /DROVER_ERR_APP_NOT_FOUND: the app module .*no\/such\/app\.js, given on the command line, does not exist/);
});

t.test('APP names the app when the command line does not', async (t) => {
  const server = await startDrover({ env: { APP: fixture('views.js') } });
  t.teardown(() => server.stop());
  t.equal((await fetch(`${server.url}/text`)).status, 200);
});

t.test('.env is loaded quietly and never overrides the environment', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'drover-env-'));
  writeFileSync(join(dir, '.env'), `WEB_CONCURRENCY=3\nLOG_LEVEL=warn\nAPP=${fixture('views.js')}\n`);

  const fromFile = await startDrover({ cwd: dir, env: { WEB_CONCURRENCY: undefined, LOG_LEVEL: 'info' } });
  const line = fromFile.logs().find((l) => l.msg === 'listening');
  t.equal(line?.workers, 3, 'WEB_CONCURRENCY from .env');
  t.equal(fromFile.stderr(), '', 'dotenv printed nothing');
  t.equal(await fromFile.stop(), 0);

  const overridden = await startDrover({ cwd: dir, env: { WEB_CONCURRENCY: '1', LOG_LEVEL: 'info' } });
  t.equal(overridden.logs().find((l) => l.msg === 'listening')?.workers, 1, 'the environment wins');
  t.equal(await overridden.stop(), 0);
});

t.test('SIGTERM stops the server with exit code 0', async (t) => {
  const server = await startDrover();
  t.equal((await fetch(`${server.url}/hello`)).status, 200);
  t.equal(await server.stop(), 0);
  t.ok(server.logs().some((l) => l.msg === 'stopped'));
});

t.test('CLI usage', async (t) => {
  const help = await runDrover(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /drover serve \[--reload\] \[APP\]/);
  const unknown = await runDrover(['launch']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /DROVER_ERR_CLI_USAGE: unknown command "launch"; commands: serve, worker, events, dev, check, routes, run, init, help/);
  const none = await runDrover([]);
  t.equal(none.code, 2);
});
