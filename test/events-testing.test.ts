// drover/testing: a test publishes through a view, sees what was published, and runs the handlers
// to completion (the events they publish included) in-process, without a worker process.
import t from 'tap';
import { testClient } from 'drover/testing';
import { fixture } from './helpers/server.js';

const client = await testClient(fixture('pipeline.js'), { env: { WEB_CONCURRENCY: '1', EVENT_THREADS: '1' } });
t.teardown(() => client.close());

t.test('see what a view published, then run the pipeline it starts', async (t) => {
  await client.post('/publish/video.uploaded?id=t', { headers: { 'x-request-id': 'test-1' } });
  t.match(await client.published(), [{ topic: 'video.uploaded', payload: { id: 't-0', ms: 0 }, correlationId: 'test-1' }]);
  const report = await client.runEvents();
  t.same(report, {
    resize: { ok: 1, retry: 0, dead: 0, timeout: 0 },
    thumbnail: { ok: 1, retry: 0, dead: 0, timeout: 0 },
    notify: { ok: 1, retry: 0, dead: 0, timeout: 0 },
  });
  t.match(await client.published('video.resized'), [{ payload: { id: 't-0' }, correlationId: 'test-1' }], 'what the resize handler published');
  t.same(await client.runEvents(), {}, 'nothing left to run');
});

t.test('failures: each run takes the deliveries that are due', async (t) => {
  await client.post('/publish/doomed?id=x');
  t.match(await client.runEvents(), { doomed: { retry: 1, dead: 0 } });
  await new Promise((resolve) => setTimeout(resolve, 150)); // its backoff (0.05 s doubled, jittered)
  t.match(await client.runEvents(), { doomed: { retry: 0, dead: 1 } });
});

t.test('an app without handlers runs nothing', async (t) => {
  const plain = await testClient('dist/app/index.js', { env: { WEB_CONCURRENCY: '1' } });
  t.teardown(() => plain.close());
  t.same(await plain.runEvents(), {});
  t.same(await plain.published(), []);
});
