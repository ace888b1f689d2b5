// Settings: parsing, defaults, errors, and the README table generated from the one declaration.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import t from 'tap';
import { settingsTable } from '../dist/config/settings.js';
import { boolean, describeSettings, integer, loadSettings, oneOf, renderSettingsTable } from '../dist/src/settings.js';
import { withSettingsTable } from '../dist/src/docs.js';

t.test('defaults', async (t) => {
  const s = loadSettings(settingsTable, {});
  t.same(s, {
    PORT: 8000,
    HOST: '0.0.0.0',
    WEB_CONCURRENCY: availableParallelism(),
    WEB_PROCESSES: 1,
    WORKER_CONCURRENCY: 4,
    WORKER_PREFETCH: 32,
    POOL_THREADS: {},
    MAX_QUEUE: 256,
    REQUEST_TIMEOUT: 25,
    HEADER_TIMEOUT: 10,
    GRACEFUL_TIMEOUT: 25,
    MAX_REQUESTS: 0,
    MAX_REQUESTS_JITTER: 0,
    WORKER_MAX_MEMORY_MB: 512,
    BODY_LIMIT: 1048576,
    FORM_MAX_FILE_SIZE: 1048576,
    FORM_MAX_FILES: 10,
    FORM_MAX_FIELDS: 1000,
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    DEBUG: false,
    TRUST_PROXY: false,
    CORS_ORIGINS: null,
    CORS_CREDENTIALS: false,
    CORS_EXPOSED_HEADERS: [],
    CORS_MAX_AGE: null,
    SECRET_KEY: null,
    METRICS_TOKEN: null,
    STATIC_DIR: 'app/static',
    STATIC_URL: '/static/',
    STATIC_MAX_AGE: 3600,
    METRICS_PORT: null,
    APP: null,
    BOOT_TIMEOUT: 30,
    SHUTDOWN_TIMEOUT: 3,
    WORKER_RECYCLE_HEAP_MB: 0,
    BUS_PATH: 'var/events.db',
    EVENT_THREADS: availableParallelism(),
    SERVE_EVENTS: true,
    EVENT_LEASE: 30,
    EVENT_RETENTION: 604800,
    EVENT_MAX_BYTES: 262144,
  });
  t.ok(Object.isFrozen(s));
});

t.test('values are parsed; empty means unset', async (t) => {
  const s = loadSettings(settingsTable, { PORT: '9000', WEB_CONCURRENCY: '4', DEBUG: 'yes', LOG_LEVEL: 'DEBUG', METRICS_PORT: '9100', HOST: '' });
  t.match(s, { PORT: 9000, WEB_CONCURRENCY: 4, DEBUG: true, LOG_LEVEL: 'debug', METRICS_PORT: 9100, HOST: '0.0.0.0' });
});

t.test('a bad value names the variable, the value and what is expected', async (t) => {
  t.throws(() => loadSettings(settingsTable, { PORT: 'abc' }), {
    code: 'DROVER_ERR_SETTINGS_INVALID',
    message: 'setting PORT="abc" is invalid: expected an integer from 0 to 65535',
  });
  t.throws(() => loadSettings(settingsTable, { WEB_CONCURRENCY: '-1' }), { message: /WEB_CONCURRENCY="-1" .* from 1 to 1024/ });
  t.throws(() => loadSettings(settingsTable, { WEB_CONCURRENCY: '1.5' }), { message: /WEB_CONCURRENCY="1.5"/ });
});

t.test('seconds accept decimals', async (t) => {
  t.equal(loadSettings(settingsTable, { REQUEST_TIMEOUT: '0.5' }).REQUEST_TIMEOUT, 0.5);
  t.throws(() => loadSettings(settingsTable, { REQUEST_TIMEOUT: '-1' }), { message: /REQUEST_TIMEOUT="-1" is invalid: expected a number of seconds/ });
  t.throws(() => loadSettings(settingsTable, { GRACEFUL_TIMEOUT: '10s' }), { message: /GRACEFUL_TIMEOUT="10s"/ });
});

t.test('parsers', async (t) => {
  t.equal(integer(1, 3).parse(' 2 '), 2);
  t.throws(() => integer(1, 3).parse('4'));
  t.throws(() => integer(1, 3).parse('2e0'));
  t.equal(boolean().parse('OFF'), false);
  t.throws(() => boolean().parse('maybe'));
  t.equal(oneOf(['a', 'b']).parse('B'), 'b');
  t.throws(() => oneOf(['a', 'b']).parse('c'));
});

t.test('the README settings table is generated from config/settings.ts', async (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  t.equal(withSettingsTable(readme), readme, 'README is current; run `npm run docs` after changing a setting');
  for (const name of Object.keys(settingsTable)) t.match(renderSettingsTable(settingsTable), `| \`${name}\` |`);
});

t.test('STATIC_URL must be a prefix', async (t) => {
  t.equal(loadSettings(settingsTable, { STATIC_URL: '/assets/v2/' }).STATIC_URL, '/assets/v2/');
  for (const bad of ['static/', '/static', '/', '/a b/']) {
    t.throws(() => loadSettings(settingsTable, { STATIC_URL: bad }), { message: /STATIC_URL=.* expected a URL path starting and ending with "\/"/ }, bad);
  }
});

t.test('POOL_THREADS is a name=count map', async (t) => {
  t.same(loadSettings(settingsTable, { POOL_THREADS: 'heavy=2, reports=1' }).POOL_THREADS, { heavy: 2, reports: 1 });
  for (const bad of ['heavy', 'heavy=0', 'Heavy=1', 'a=1,a=2', 'heavy=x']) {
    t.throws(() => loadSettings(settingsTable, { POOL_THREADS: bad }), { message: /POOL_THREADS=.* expected name=count pairs/ }, bad);
  }
});

t.test('describeSettings masks secrets', async (t) => {
  const lines = describeSettings(settingsTable, loadSettings(settingsTable, { METRICS_TOKEN: 'hunter2', PORT: '9000' }));
  t.ok(lines.includes('METRICS_TOKEN=****'));
  t.ok(lines.includes('PORT=9000'));
  t.ok(lines.includes('METRICS_PORT=(unset)'));
  t.notOk(lines.join('\n').includes('hunter2'));
});
