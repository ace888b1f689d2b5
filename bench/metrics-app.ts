/**
 * The app `npm run bench` measures view metrics with: the same light view without metrics and
 * with a counter and a histogram over 20 label values, as an instrumented app would have them.
 */
import { get } from 'drover';
import { Counter, Histogram } from 'prom-client';

const hits = new Counter({ name: 'bench_hits_total', help: 'Requests by route name.', labelNames: ['name'] });
const size = new Histogram({ name: 'bench_size', help: 'A size per route name.', labelNames: ['name'], buckets: [1, 5, 10, 50, 100, 500] });
const NAMES = Array.from({ length: 20 }, (_, i) => `name-${i}`);
let n = 0;

export default [
  get('/hello', () => ({ hello: 'world' })),
  get('/counted', () => {
    const name = NAMES[n++ % NAMES.length] as string;
    hits.inc({ name });
    size.observe({ name }, n % 200);
    return { hello: 'world' };
  }),
];
