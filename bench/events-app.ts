/**
 * The app `npm run bench` measures the bus with: no-op handlers (one, and a 1-to-3 fan-out), a
 * handler that records how long each event waited between its publish and its handler's start,
 * and the same light view with and without publishing an event.
 */
import { appendFileSync } from 'node:fs';
import { get, on } from 'drover';

const noop = () => undefined;

export const events = [
  on('bench.noop', noop, { name: 'noop', concurrency: 32 }),
  on('bench.fan', noop, { name: 'fan-a', concurrency: 32 }),
  on('bench.fan', noop, { name: 'fan-b', concurrency: 32 }),
  on('bench.fan', noop, { name: 'fan-c', concurrency: 32 }),
  // Milliseconds from publish (t0, set by the publisher) to this handler's start, one per line.
  on('bench.latency', (job: { t0: number; file: string }) => appendFileSync(job.file, `${Date.now() - job.t0}\n`), { name: 'latency', concurrency: 32 }),
  on('bench.view', noop, { name: 'view' }),
];

export default [
  get('/hello', () => ({ hello: 'world' })),
  get('/publish', (req) => {
    req.publish('bench.view', { hello: 'world' });
    return { hello: 'world' };
  }),
];
