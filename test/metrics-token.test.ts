// METRICS_TOKEN: /metrics requires `Authorization: Bearer <token>`.
import t from 'tap';
import { testClient } from 'drover/testing';
import { fixture, startDrover } from './helpers/server.js';

const client = await testClient(fixture('views.js'), { env: { METRICS_TOKEN: 's3cret-token', WEB_CONCURRENCY: '1' } });
t.teardown(() => client.close());

t.test('without or with a wrong token: 401', async (t) => {
  for (const authorization of [undefined, 'Bearer wrong', 'Bearer s3cret-tokenX', 's3cret-token']) {
    const res = await client.get('/metrics', authorization ? { headers: { authorization } } : {});
    t.equal(res.status, 401, String(authorization));
    t.equal(res.headers['www-authenticate'], 'Bearer realm="metrics"');
    t.match(res.json(), { status: 401, error: /Authorization: Bearer <METRICS_TOKEN>/ });
    t.notMatch(res.text(), /s3cret/);
  }
});

t.test('with the token: the metrics', async (t) => {
  const res = await client.get('/metrics', { headers: { authorization: 'Bearer s3cret-token' } });
  t.equal(res.status, 200);
  t.match(res.text(), /^# HELP http_requests_total/m);
});

t.test('the token also guards the METRICS_PORT listener', async (t) => {
  const server = await startDrover({ app: fixture('views.js'), env: { METRICS_PORT: '0', METRICS_TOKEN: 's3cret-token' } });
  t.teardown(() => server.stop());
  t.equal((await fetch(`${server.metricsUrl}/metrics`)).status, 401);
  const ok = await fetch(`${server.metricsUrl}/metrics`, { headers: { authorization: 'Bearer s3cret-token' } });
  t.equal(ok.status, 200);
});
