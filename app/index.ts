/**
 * The example app: its route table is the module's default export, its middleware the
 * `middleware` export (outermost first). Served by `npm start` (or `drover serve dist/app/index.js`).
 */
import { get, on, post, reverse, schedule, type HookContext, type Middleware, type PoolSpec, type Route } from 'drover';
import { countBooking, countSearch, nightlyReport, trackBooking, trackSearch } from './events/analysis.js';
import { finish, resize, thumbnail } from './events/uploads.js';
import { closeStore } from './store.js';
import { book, insights, search } from './views/bookings.js';
import { progress, upload } from './views/uploads.js';
import { timing } from './middleware.js';
import { settings } from './settings.js';
import { echo, hello, item, sleep } from './views/basics.js';
import { primes, report } from './views/compute.js';
import { bytesStream, clock, download, exportCsv } from './views/streams.js';

const routes: Route[] = [
  get('/', index, { name: 'index' }),
  get('/hello', hello, { name: 'hello' }),
  get('/items/<int:id>', item, { name: 'item' }),
  get('/report', report, { name: 'report' }),
  post('/echo', echo, { name: 'echo' }),
  // CPU-bound: in its own pool (a bulkhead), so a burst of it never delays the other routes.
  get('/primes/<int:n>', primes, { name: 'primes', pool: 'heavy' }),
  get('/sleep', sleep, { name: 'sleep' }),
  // Streamed responses: a CSV export, raw bytes, server-sent events; and a file sent by the front.
  get('/export.csv', exportCsv, { name: 'export' }),
  get('/bytes/<int:mib>', bytesStream, { name: 'bytes' }),
  get('/clock', clock, { name: 'clock' }),
  get('/downloads/<path:name>', download, { name: 'download' }),
  // Background work: the upload pipeline and the analysis modules (see `events` below).
  post('/uploads', upload, { name: 'uploads' }),
  get('/uploads/<str:id>', progress, { name: 'upload' }),
  get('/search', search, { name: 'search' }),
  post('/bookings', book, { name: 'bookings' }),
  get('/insights', insights, { name: 'insights' }),
];

/**
 * Event handlers, by topic. Each gets its own delivery of every event of its topic (fan-out); a
 * new analysis module is one more line here, and no view changes.
 */
export const events = [
  // The pipeline: an upload fans out to two independent jobs, whose events finish it.
  on('upload.received', resize, { name: 'resize' }),
  on('upload.received', thumbnail, { name: 'thumbnail', attempts: 3, backoff: 0.5 }),
  on('upload.resized', finish('resize'), { name: 'finish-resize' }),
  on('upload.thumbnailed', finish('thumbnail'), { name: 'finish-thumbnail' }),
  // The analysis modules: every search and booking, consumed for two purposes.
  on('search.done', countSearch, { name: 'popular-searches' }),
  on('booking.made', countBooking, { name: 'popular-bookings' }),
  on('search.done', trackSearch, { name: 'abandoned-searches' }),
  on('booking.made', trackBooking, { name: 'abandoned-bookings' }),
  on('report.due', nightlyReport, { name: 'nightly-report' }),
];

/** Periodic events: a nightly report (cron, read in UTC), published once however many workers run. */
export const schedules = [schedule('0 3 * * *', 'report.due', { kind: 'nightly' })];

/** GET / — names every route; `example` is a URL built with reverse(). */
function index() {
  const examples: Record<string, Record<string, number | string>> = {
    item: { id: 7 },
    primes: { n: 1000 },
    bytes: { mib: 1 },
    download: { name: 'robots.txt' },
    upload: { id: '00000000-0000-0000-0000-000000000000' },
  };
  return {
    routes: routes.map((r) => {
      const name = r.options.name ?? null;
      const params = name ? (examples[name] ?? {}) : {};
      return { methods: r.methods, pattern: r.pattern, name, example: name ? reverse(name, params) : null };
    }),
  };
}

export const middleware: Middleware[] = [timing];

/** The app's settings: drover validates them at boot and `drover check` prints them. */
export { settings };

/**
 * Runs once in every worker thread before it takes a request (module state is per thread): the
 * place to open a connection pool or warm a cache. `shutdown` is its counterpart.
 */
export function startup(ctx: HookContext<typeof settings>): void {
  ctx.log.debug({ pool: ctx.pool, reportRows: ctx.settings.REPORT_ROWS }, 'worker ready');
}

/** Runs when a worker thread retires (recycle, reload, graceful stop): close what startup opened. */
export function shutdown(ctx: HookContext<typeof settings>): void {
  ctx.log.debug({ pool: ctx.pool }, 'worker retiring');
  closeStore();
}

/** Worker pools besides `default` (WEB_CONCURRENCY threads); POOL_THREADS=heavy=N resizes. */
export const pools: Record<string, PoolSpec> = { heavy: { threads: 1, prefetch: 0 } };

export default routes;
