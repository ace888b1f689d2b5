/**
 * The example app: its route table is the module's default export.
 * Served by `npm start` (or `drover serve dist/app/index.js`).
 */
import { get, post, type Route } from 'drover';
import { echo, hello, item, sleep } from './views/basics.js';
import { primes, report } from './views/compute.js';

const routes: Route[] = [
  get('/', () => ({ routes: routes.map((r) => ({ methods: r.methods, pattern: r.pattern, name: r.options.name ?? null })) }), { name: 'index' }),
  get('/hello', hello, { name: 'hello' }),
  get('/items/<int:id>', item, { name: 'item' }),
  get('/report', report, { name: 'report' }),
  post('/echo', echo, { name: 'echo' }),
  get('/primes/<int:n>', primes, { name: 'primes' }),
  get('/sleep', sleep, { name: 'sleep' }),
];

export default routes;
