// One metrics registry: an app that loads a prom-client other than drover's would have its metrics
// silently missing from /metrics, so boot (and check) fail naming both copies.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, runDrover } from './helpers/server.js';

// Inside the repository, so the app resolves `drover` by self-reference; its own node_modules
// holds another prom-client.
const dir = mkdtempSync(join(ROOT, 'test', '.tmp-prom-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'node_modules', 'prom-client'), { recursive: true });
writeFileSync(join(dir, 'node_modules', 'prom-client', 'package.json'), JSON.stringify({ name: 'prom-client', version: '14.2.0', main: 'index.js' }));
writeFileSync(join(dir, 'node_modules', 'prom-client', 'index.js'), 'exports.register = {};\nexports.Counter = class Counter {};\n');
writeFileSync(join(dir, 'own-prom.js'), "import { Counter } from 'prom-client';\nimport { get } from 'drover';\nnew Counter();\nexport default [get('/', () => ({}))];\n");
writeFileSync(join(dir, 'no-prom.js'), "import { get } from 'drover';\nexport default [get('/', () => ({}))];\n");

for (const command of ['serve', 'check']) {
  t.test(`${command}: an app with its own prom-client fails naming both versions`, async (t) => {
    const { code, stderr } = await runDrover([command, join(dir, 'own-prom.js')]);
    t.equal(code, 1);
    t.match(stderr, /DROVER_ERR_METRICS_REGISTRY: the app .*own-prom\.js loaded prom-client 14\.2\.0 from .*\.tmp-prom-.*node_modules\/prom-client, but drover serves the registry of prom-client 15\.\d+\.\d+/);
    t.match(stderr, /npm ls prom-client/);
  });
}

t.test('a second copy the app never loads is no problem', async (t) => {
  const { code, stdout } = await runDrover(['check', join(dir, 'no-prom.js')]);
  t.equal(code, 0);
  t.match(stdout, /^OK$/m);
});
