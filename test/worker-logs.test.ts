// View log lines reach stdout whole, never torn or interleaved, even when long and concurrent.
import t from 'tap';
import { fixture, startDrover } from './helpers/server.js';

const server = await startDrover({ app: fixture('faults.js'), env: { WEB_CONCURRENCY: '2', WORKER_CONCURRENCY: '4' } });
t.teardown(() => server.stop());

t.test('long lines from many concurrent views arrive whole', async (t) => {
  const requests = 16;
  const perRequest = 20;
  const size = 20_000; // each line is ~20 KB, far over PIPE_BUF
  const statuses = await Promise.all(
    Array.from({ length: requests }, (_, i) =>
      fetch(`${server.url}/log?n=${perRequest}&size=${size}`, { headers: { 'x-request-id': `burst-${i}` } }).then((r) => r.status),
    ),
  );
  t.same([...new Set(statuses)], [200]);
  await server.waitForLog(() => server.stdout().filter((l) => l.includes('"fixture line"')).length === requests * perRequest);
  const lines = server.logs().filter((l) => l.msg === 'fixture line'); // logs() parses every stdout line
  t.equal(lines.length, requests * perRequest);
  t.ok(lines.every((l) => (l.pad as string).length === size), 'no line was cut');
  for (let i = 0; i < requests; i++) {
    const mine = lines.filter((l) => l.reqId === `burst-${i}`).map((l) => l.i);
    t.same(mine, Array.from({ length: perRequest }, (_, k) => k), `request ${i}: all its lines, in order`);
  }
});
