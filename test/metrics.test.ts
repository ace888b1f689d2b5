// /metrics after known traffic: values, labels, format.
import { spawnSync } from 'node:child_process';
import t from 'tap';
import { fixture, sample, startDrover } from './helpers/server.js';

t.test('HTTP metrics after known traffic', async (t) => {
  const server = await startDrover({ app: fixture('views.js') });
  t.teardown(() => server.stop());
  for (let i = 0; i < 3; i++) await fetch(`${server.url}/text`);
  await fetch(`${server.url}/nowhere/one`);
  await fetch(`${server.url}/nowhere/two`);
  await fetch(`${server.url}/text`, { method: 'POST' });
  await fetch(`${server.url}/teapot`);

  const res = await fetch(`${server.url}/metrics`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();

  t.equal(sample(text, 'http_requests_total{method="GET",route="/text",status_code="200"}'), 3);
  t.equal(sample(text, 'http_requests_total{method="GET",route="<unmatched>",status_code="404"}'), 2, 'unmatched paths share one label');
  t.equal(sample(text, 'http_requests_total{method="POST",route="/text",status_code="405"}'), 1, '405 is labelled with the pattern');
  t.equal(sample(text, 'http_requests_total{method="GET",route="/teapot",status_code="418"}'), 1);
  t.equal(sample(text, 'http_request_duration_seconds_count{method="GET",route="/text",status_code="200"}'), 3);
  t.equal(sample(text, 'http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/text",status_code="200"}'), 3);
  t.notMatch(text, /nowhere/, 'a raw path never becomes a label');

  t.equal(text.match(/^# TYPE process_cpu_user_seconds_total counter$/gm)?.length, 1, 'process metrics once');
  t.match(text, /^nodejs_eventloop_lag_seconds \d/m);
  t.match(text, /^process_resident_memory_bytes \d+/m);

  const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (promtool.error) {
    t.skip('promtool is not installed (apt-get install prometheus); .ci/run installs it');
  } else {
    t.equal(promtool.status, 0, `promtool check metrics: ${promtool.stdout}${promtool.stderr}`);
  }
});

t.test('METRICS_PORT moves /metrics to its own listener', async (t) => {
  const server = await startDrover({ app: fixture('views.js'), env: { METRICS_PORT: '0' } });
  t.teardown(() => server.stop());
  t.not(server.metricsUrl, `${server.url}/metrics`);
  t.equal((await fetch(`${server.url}/metrics`)).status, 404, 'not on PORT');
  await fetch(`${server.url}/text`);
  const res = await fetch(`${server.metricsUrl}/metrics`);
  t.equal(res.status, 200);
  t.equal(sample(await res.text(), 'http_requests_total{method="GET",route="/text",status_code="200"}'), 1);
  t.equal((await fetch(`${server.metricsUrl}/text`)).status, 404, 'the metrics listener serves nothing else');
});
