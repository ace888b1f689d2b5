// `drover check` (a PaaS release phase) fails exactly where `serve` would fail at boot, with the same
// coded line, and prints OK only when serve would boot; secrets never appear in its output.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { ROOT, fixture, runDrover, type Env } from './helpers/server.js';

type Outcome = Awaited<ReturnType<typeof runDrover>>;

/** The first line of stderr: drover's error line. */
const errorLine = (r: Outcome): string => r.stderr.split('\n')[0] ?? '';

/**
 * Runs `check` and `serve` on the same app and environment; both must fail, with the same error
 * line (serve cannot hang here: it fails at boot, and a serve that booted would be a failure).
 */
async function bothFail(t: Test, app: string, env: Env, cwd = ROOT): Promise<{ check: Outcome; serve: Outcome }> {
  const check = await runDrover(['check', app], env, cwd);
  t.not(check.code, 0, 'check exits non-zero');
  t.match(errorLine(check), /^drover: DROVER_ERR_[A-Z_]+: /, 'check prints an error line');
  t.notMatch(check.stdout, /^OK$/m, 'check does not say OK');
  const serve = await runDrover(['serve', app], env, cwd);
  t.not(serve.code, 0, 'serve exits non-zero');
  t.notMatch(serve.stdout, /listening/, 'serve did not listen');
  t.equal(errorLine(serve), errorLine(check), 'serve stops with the same error');
  return { check, serve };
}

t.test('POOL_THREADS naming a pool the app does not declare', async (t) => {
  const app = fixture('pools.js');
  const { check } = await bothFail(t, app, { POOL_THREADS: 'light=2' });
  t.equal(errorLine(check), 'drover: DROVER_ERR_SETTINGS_INVALID: setting POOL_THREADS={"light":2} is invalid: expected pools the app declares (heavy); unknown: light');

  const ok = await runDrover(['check', app], { POOL_THREADS: 'heavy=3' });
  t.equal(ok.code, 0);
  t.equal(ok.stderr, '');
  t.match(ok.stdout, /^Pools: default=2, heavy=3 threads$/m, 'a declared pool is resized');
  t.match(ok.stdout, /\nOK\n$/);
});

t.test("the app's own settings are validated as at boot, secrets masked", async (t) => {
  const dir = mkdtempSync(join(ROOT, 'test', '.tmp-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'app.js'),
    [
      "import { defineSettings, get, integer, secret, url } from 'drover';",
      'export const settings = defineSettings({',
      "  PAGE_SIZE: { parser: integer(1, 100), default: 10, description: 'x' },",
      "  API_KEY: { parser: secret(), description: 'k' },",
      "  BILLING_URL: { parser: url(), default: null, secret: true, description: 'Billing API, with its token.' },",
      '});',
      "export default [get('/page', () => ({ size: settings.PAGE_SIZE }))];",
      '',
    ].join('\n'),
  );
  const app = join(dir, 'app.js');
  const key = 'sk_live_4f9a8b7c6d';
  // No .env in the repository would be read from here; the environment is the only source.
  const env = (vars: Env): Env => ({ PAGE_SIZE: undefined, API_KEY: undefined, BILLING_URL: undefined, ...vars });

  t.test('a required secret unset', async (t) => {
    const { check } = await bothFail(t, app, env({}), dir);
    t.equal(errorLine(check), 'drover: DROVER_ERR_SETTINGS_MISSING: setting API_KEY is required and not set: expected a non-empty secret; set it in the environment or in .env');
  });

  t.test('a value out of range', async (t) => {
    const { check } = await bothFail(t, app, env({ API_KEY: key, PAGE_SIZE: '1000' }), dir);
    t.equal(errorLine(check), 'drover: DROVER_ERR_SETTINGS_INVALID: setting PAGE_SIZE="1000" is invalid: expected an integer from 1 to 100');
    t.notOk(check.stderr.includes(key) || check.stdout.includes(key), 'the key is not printed');
  });

  t.test('a bad value of a secret setting is masked in the error', async (t) => {
    const bad = `not a url ${key}`;
    const { check, serve } = await bothFail(t, app, env({ API_KEY: key, BILLING_URL: bad }), dir);
    t.equal(errorLine(check), 'drover: DROVER_ERR_SETTINGS_INVALID: setting BILLING_URL=**** is invalid: expected an absolute URL, e.g. https://example.com/path');
    for (const [name, r] of [['check', check], ['serve', serve]] as const) {
      t.notOk(r.stderr.includes(key) || r.stdout.includes(key), `${name}: the value is not printed`);
    }
  });

  t.test('valid: App settings with secrets masked, and OK', async (t) => {
    const { code, stdout, stderr } = await runDrover(['check', app], env({ API_KEY: key, PAGE_SIZE: '25' }), dir);
    t.equal(code, 0);
    t.equal(stderr, '');
    const lines = stdout.split('\n');
    const at = lines.indexOf('App settings:');
    t.ok(at > 0, 'an App settings: section after drover\'s own');
    t.same(lines.slice(at + 1, at + 4), ['  PAGE_SIZE=25', '  API_KEY=****', '  BILLING_URL=(unset)']);
    t.notOk(stdout.includes(key), 'the secret never appears');
    t.match(stdout, new RegExp(`^App: ${app} \\(from the command line; 1 routes?, 0 middleware\\)$`, 'm'));
    t.match(stdout, /\nOK\n$/);
  });
});

t.test('a bad drover setting and a broken app fail check with one error line', async (t) => {
  for (const [args, env, pattern] of [
    [['check', fixture('views.js')], { WEB_CONCURRENCY: '0' }, /^drover: DROVER_ERR_SETTINGS_INVALID: setting WEB_CONCURRENCY="0" is invalid/],
    [['check', fixture('not-a-table.js')], {}, /^drover: DROVER_ERR_APP_ROUTES: /],
    [['check', fixture('bad-pool.js')], {}, /^drover: DROVER_ERR_POOL: /],
  ] as const) {
    const r = await runDrover([...args], { ...env });
    t.not(r.code, 0, `${args[1]}: non-zero`);
    t.match(errorLine(r), pattern);
    t.notMatch(r.stdout, /^OK$/m);
  }
});
