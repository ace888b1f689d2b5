// Reload (gunicorn's HUP): workers are replaced one at a time by threads that import the app
// afresh; requests keep being served and none fails. A changed route table is refused, loudly.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { fixture, sample, scrape, startDrover } from './helpers/server.js';

const state = join(mkdtempSync(join(tmpdir(), 'drover-reload-')), 'state.json');
writeFileSync(state, JSON.stringify({ version: 'v1', extraRoute: false }));
const server = await startDrover({
  app: fixture('faults.js'),
  env: { WEB_CONCURRENCY: '2', FIXTURE_STATE_FILE: state },
});
t.teardown(() => server.stop());
const version = async () => ((await (await fetch(`${server.url}/version`)).json()) as { version: string }).version;

t.test('SIGHUP loads new code, one worker at a time, without failing a request', async (t) => {
  t.equal(await version(), 'v1');
  writeFileSync(state, JSON.stringify({ version: 'v2', extraRoute: false }));

  const statuses: number[] = [];
  let running = true;
  const load = Promise.all(
    Array.from({ length: 3 }, async () => {
      while (running) statuses.push((await fetch(`${server.url}/slow?ms=20`)).status);
    }),
  );
  server.child.kill('SIGHUP');
  await server.waitForLog((l) => l.msg === 'workers reloaded' && l.reason === 'SIGHUP');
  running = false;
  await load;

  t.ok(statuses.length > 10);
  t.same([...new Set(statuses)], [200], 'no request failed during the reload');
  t.equal(await version(), 'v2');
  t.equal(await version(), 'v2', 'every worker runs the new code');
  t.equal(sample(await scrape(server.url), 'drover_worker_restarts_total{pool="default",reason="reload"}'), 2);
});

t.test('a changed route table is refused with a clear log line; the old workers keep serving', async (t) => {
  writeFileSync(state, JSON.stringify({ version: 'v3', extraRoute: true }));
  server.child.kill('SIGHUP');
  const line = await server.waitForLog((l) => /the route table, pools or event handlers changed/.test(String(l.msg)));
  t.equal(line.level, 50);
  t.match(line.msg, /reload stopped, the running workers keep serving: the route table, pools or event handlers changed; restart the server to apply them/);
  t.equal(await version(), 'v2');
  t.equal((await fetch(`${server.url}/extra`)).status, 404);
});
