// App settings: declared once with defineSettings, read from the environment (and .env), validated
// at boot, typed values in views and hooks, a README table for the app's own docs.
import t from 'tap';
import { defineSettings, duration, integer, list, oneOf, renderSettingsTable, secret, url } from '../dist/src/index.js';
import { loadSettings, setSettingsEnvironment } from '../dist/src/settings.js';
import { testClient } from '../dist/src/testing.js';
import { fixture } from './helpers/server.js';

t.test('values come from the environment drover read, typed and validated', async (t) => {
  const client = await testClient(fixture('hooks.js'), { env: { GREETING: 'bonjour', WEB_CONCURRENCY: '1' } });
  t.teardown(() => client.close());
  t.same((await client.get('/who')).json(), { thread: (await client.get('/who')).json<{ thread: number }>().thread, startups: 1, greeting: 'bonjour' });
});

t.test('a bad app setting stops boot naming the variable and the value', async (t) => {
  await t.rejects(testClient(fixture('hooks.js'), { env: { SHUTDOWN_MODE: 'sometimes', WEB_CONCURRENCY: '1' } }), {
    code: 'DROVER_ERR_SETTINGS_INVALID',
    message: 'setting SHUTDOWN_MODE="sometimes" is invalid: expected one of ok, hang, throw, slow',
  });
});

t.test('parsers', async (t) => {
  const table = {
    DATABASE_URL: { parser: url(['postgres:']), description: 'db', secret: true },
    HOSTS: { parser: list(), default: [] as readonly string[], description: 'hosts' },
    PORTS: { parser: list(integer(1, 65535)), default: [] as readonly number[], description: 'ports' },
    TTL: { parser: duration(0, 86_400), default: 60, description: 'ttl' },
    MODE: { parser: oneOf(['a', 'b']), default: 'a' as 'a' | 'b', description: 'mode' },
    KEY: { parser: secret(), default: null, description: 'key' },
  };
  const values = loadSettings(table, { DATABASE_URL: 'postgres://u:p@db/app', HOSTS: 'a.example, b.example,', PORTS: '80,443', TTL: '5m' });
  t.same(values, { DATABASE_URL: 'postgres://u:p@db/app', HOSTS: ['a.example', 'b.example'], PORTS: [80, 443], TTL: 300, MODE: 'a', KEY: null });
  t.equal(loadSettings(table, { DATABASE_URL: 'postgres://x/y', TTL: '250ms' }).TTL, 0.25);
  t.throws(() => loadSettings(table, {}), { code: 'DROVER_ERR_SETTINGS_MISSING', message: /setting DATABASE_URL is required and not set: expected a URL starting with postgres:\/\// });
  t.throws(() => loadSettings(table, { DATABASE_URL: 'mysql://u:hunter2@db/app' }), {
    code: 'DROVER_ERR_SETTINGS_INVALID',
    message: 'setting DATABASE_URL=**** is invalid: expected a URL starting with postgres://',
  }, 'a secret is masked in the error');
  t.throws(() => loadSettings(table, { DATABASE_URL: 'postgres://x/y', PORTS: '80,http' }), { message: /PORTS="80,http" is invalid: expected a comma-separated list of integer from 1 to 65535 items/ });
  t.throws(() => loadSettings(table, { DATABASE_URL: 'postgres://x/y', TTL: '2 weeks' }), { message: /TTL="2 weeks" is invalid: expected a duration/ });
});

t.test('defineSettings values are read on first use from the environment drover set', async (t) => {
  setSettingsEnvironment({ PAGE_SIZE: '25' });
  const settings = defineSettings({ PAGE_SIZE: { parser: integer(1, 100), default: 10, description: 'Items per page.' } });
  t.equal(settings.PAGE_SIZE, 25);
  t.same(Object.keys(settings), ['PAGE_SIZE']);
  t.ok(Object.isFrozen(settings));
});

t.test("an app's settings table renders for its own README", async (t) => {
  const settings = defineSettings({
    API_KEY: { parser: secret(), description: 'Key of the payments API.' },
    PAGE_SIZE: { parser: integer(1, 100), default: 10, description: 'Items per page.' },
  });
  t.equal(
    renderSettingsTable(settings),
    [
      '| Variable | Default | Accepts | Description |',
      '| --- | --- | --- | --- |',
      '| `API_KEY` | required | a non-empty secret | Key of the payments API. Secret: masked wherever settings are printed. |',
      '| `PAGE_SIZE` | `10` | an integer from 1 to 100 | Items per page. |',
    ].join('\n'),
  );
});

t.test('a computed default and a secret default are not printed in the table; oneOf keeps the declared case', async (t) => {
  const settings = defineSettings({
    WORKERS: { parser: integer(1, 64), default: () => 4, description: 'Workers.' },
    TOKEN: { parser: secret(), default: 'dev-token', description: 'Token.' },
    MODE: { parser: oneOf(['Fast', 'Safe']), default: 'Safe' as 'Fast' | 'Safe', description: 'Mode.' },
  });
  const table = renderSettingsTable(settings);
  t.match(table, '| `WORKERS` | computed at boot |');
  t.match(table, '| `TOKEN` | (secret) |');
  t.notMatch(table, /dev-token|=> 4/);
  t.equal(loadSettings(settings, { MODE: 'fast' }).MODE, 'Fast');
});
