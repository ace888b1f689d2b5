// A web process's metrics on their way to the supervisor: its gauges are its own figures, told
// apart by pid, except a gauge that is one figure for the whole service (another aggregator).
import t from 'tap';
import { labelGauges } from '../dist/src/cluster/web-process.js';
import type { MetricSnapshot } from '../dist/src/view-metrics.js';

t.test('gauges get the pid; counters, and gauges with another aggregator than sum, do not', async (t) => {
  const snapshot = [
    { name: 'heap', help: 'h', type: 'gauge', aggregator: 'sum', values: [{ value: 1, labels: { space: 'old' } }] },
    { name: 'requests', help: 'r', type: 'counter', aggregator: 'sum', values: [{ value: 5, labels: {} }] },
    { name: 'drover_event_backlog', help: 'b', type: 'gauge', aggregator: 'max', values: [{ value: 3, labels: { handler: 'a', state: 'ready' } }] },
  ] as unknown as MetricSnapshot;
  const [heap, requests, backlog] = labelGauges(snapshot, 4242);
  t.same(heap?.values[0]?.labels, { space: 'old', pid: '4242' });
  t.same(requests?.values[0]?.labels, {});
  t.same(backlog?.values[0]?.labels, { handler: 'a', state: 'ready' });
});
