/**
 * Every drover setting, declared once: environment variable, parser, default, description.
 *
 * This table validates the environment at boot, is printed by `drover check`, and generates the
 * README's configuration table (`npm run docs`; a test fails when the README is stale).
 */
import { availableParallelism } from 'node:os';
import {
  boolean,
  counts,
  defineSettings,
  duration,
  integer,
  list,
  nonEmpty,
  oneOf,
  origins,
  seconds,
  trustProxy,
  urlPrefix,
  type SettingSpec,
  type SettingsOf,
  type TableOf,
} from '../src/settings.js';

export const settingsTable = defineSettings({
  PORT: {
    parser: integer(0, 65535),
    default: 8000,
    description: 'TCP port the web server listens on (0 picks a free port, logged at boot).',
  },
  HOST: {
    parser: nonEmpty('a host name or IP address'),
    default: '0.0.0.0',
    description: 'Address the web server binds to.',
  },
  WEB_CONCURRENCY: {
    parser: integer(1, 1024),
    default: () => availableParallelism(),
    defaultText: 'number of available cores',
    description: 'Worker threads that run views (gunicorn\'s workers), in each web process.',
  },
  WEB_PROCESSES: {
    parser: integer(1, 256),
    default: 1,
    description:
      'Web processes `drover serve` runs, each a front with its own pools, under a supervisor that serves no HTTP (node:cluster; gunicorn\'s arbiter): one per core lifts the single front thread\'s ceiling on light views. Threads in all: WEB_PROCESSES × WEB_CONCURRENCY. SIGTTIN/SIGTTOU add/remove one.',
  },
  WORKER_CONCURRENCY: {
    parser: integer(1, 1000),
    default: 4,
    description:
      'Views one worker thread runs at once. Above 1, async views overlap their I/O waits; ' +
      'the cost is shared fate: a CPU-bound view delays the others on its thread, and a timed-out view ' +
      'takes its thread (and the views running on it) down. 4 keeps that blast radius small.',
  },
  WORKER_PREFETCH: {
    parser: integer(0, 1000),
    default: 32,
    description:
      "Requests sent ahead to a worker thread, beyond those it runs, to wait in its inbox (Celery's prefetch): " +
      'the thread never idles waiting for its next request, and one thread hop carries many requests. ' +
      'A request that has not started shares no fate: if its thread dies or its deadline passes, it is ' +
      'taken back and run elsewhere or answered 504. One waiting behind a slow view moves to a thread ' +
      'that goes idle; still, give slow views a pool of their own. 0 sends only what a thread can start at once.',
  },
  POOL_THREADS: {
    parser: counts(1, 1024),
    default: {} as Readonly<Record<string, number>>,
    defaultText: 'unset: the sizes the app declares',
    description:
      'Threads of the app\'s named pools (bulkheads), overriding its `pools` export, e.g. `heavy=2,reports=1`. The default pool is sized by WEB_CONCURRENCY.',
  } satisfies SettingSpec<Readonly<Record<string, number>>>,
  MAX_QUEUE: {
    parser: integer(0, 1_000_000),
    default: 256,
    description:
      'Requests that may wait for a free worker slot, per pool. Beyond it a request is answered 503 with `Retry-After` at once.',
  },
  REQUEST_TIMEOUT: {
    parser: seconds(0.001, 86_400),
    default: 25,
    description:
      'Deadline of a request, counted from its arrival (queue time included), under a PaaS router\'s 30 s. ' +
      'Past it a queued request is dropped and a running one answered 504 and its `req.signal` aborted; its worker thread is replaced unless the view stops within 1 s. ' +
      'For a streamed response it bounds the silence instead: the stream is cut when neither the view produces nor the client takes a chunk for that long. ' +
      'A route may override it with `{ timeout }`. Also the time a client has to send its whole request.',
  },
  HEADER_TIMEOUT: {
    parser: seconds(0.001, 3600),
    default: 10,
    description: 'Time a client has to send its request headers before the connection is answered 408 and closed (slow clients).',
  },
  GRACEFUL_TIMEOUT: {
    parser: seconds(0, 3600),
    default: 25,
    description:
      'On SIGTERM/SIGINT, time for in-flight and queued requests to finish; what is left is then answered 503 and the process exits non-zero.',
  },
  MAX_REQUESTS: {
    parser: integer(0, 1_000_000_000),
    default: 0,
    description: 'Recycle a worker thread after this many requests (a fresh one replaces it first); 0 never.',
  },
  MAX_REQUESTS_JITTER: {
    parser: integer(0, 1_000_000_000),
    default: 0,
    description: 'Random extra 0..N requests per worker before recycling, so workers do not recycle together.',
  },
  WORKER_MAX_MEMORY_MB: {
    parser: integer(16, 1_048_576),
    default: 512,
    description:
      'Heap limit of each worker thread (V8 old generation, MiB). A view that exceeds it costs its request a 502 and the thread is replaced.',
  },
  BODY_LIMIT: {
    parser: integer(0, 1_073_741_824),
    default: 1_048_576,
    description: 'Largest request body in bytes; a larger one is answered 413.',
  },
  FORM_MAX_FILE_SIZE: {
    parser: integer(0, 1_073_741_824),
    default: 1_048_576,
    description: 'Largest file in a multipart form read by `req.form()`, in bytes; a larger one is a 413. The whole body is bounded by BODY_LIMIT first: raise both for uploads.',
  },
  FORM_MAX_FILES: {
    parser: integer(0, 10_000),
    default: 10,
    description: 'Most files one form may carry; more is a 413.',
  },
  FORM_MAX_FIELDS: {
    parser: integer(0, 1_000_000),
    default: 1000,
    description: 'Most fields (not files) one form may carry; more is a 413.',
  },
  LOG_LEVEL: {
    parser: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    description: 'Lowest level written to stdout, for the front and the workers alike.',
  },
  LOG_FORMAT: {
    parser: oneOf(['json', 'pretty']),
    default: 'json',
    description: '`json`: one JSON object per line (production). `pretty`: human-readable lines via pino-pretty (development; `npm run dev`).',
  },
  DEBUG: {
    parser: boolean(),
    default: false,
    description: 'Development mode: 500 responses carry the error and its stack. Never in production.',
  },
  TRUST_PROXY: {
    parser: trustProxy(),
    default: false as boolean | number | readonly string[],
    description:
      'Which proxies in front of drover to believe about the client (`X-Forwarded-For`, `-Host`, `-Proto`), for `req.ip`, `req.ips`, `req.host`, ' +
      '`req.protocol` and the access log\'s `ip`: `false` none (the socket\'s peer is the client), `true` all, a number of hops (1: the PaaS router), ' +
      'or the proxies\' addresses/CIDRs. Trust only what sets those headers itself: otherwise any client can claim any address.',
  } satisfies SettingSpec<boolean | number | readonly string[]>,
  SECRET_KEY: {
    parser: nonEmpty('a long random secret'),
    default: null,
    secret: true,
    description:
      'Signs cookies set with `withCookie(…, { signed: true })` and verifies `req.signedCookie()` (HMAC-SHA256, the cookie-signature package). ' +
      'Keep it the same across deploys and processes: a new key invalidates every signed cookie.',
  } satisfies SettingSpec<string | null>,
  CORS_ORIGINS: {
    parser: origins(),
    default: null,
    defaultText: 'unset: no CORS headers',
    description:
      'Origins allowed to call the app from a browser (CORS), or `*` for any; handled in the front by @fastify/cors: preflights are answered ' +
      'without a thread hop, and every response (errors, 404 and 503 included) carries the headers.',
  } satisfies SettingSpec<readonly string[] | null>,
  CORS_CREDENTIALS: {
    parser: boolean(),
    default: false,
    description: 'Allow credentials (cookies, Authorization) on cross-origin requests (`Access-Control-Allow-Credentials`); needs a list in CORS_ORIGINS, not `*`.',
  },
  CORS_EXPOSED_HEADERS: {
    parser: list(),
    default: [] as readonly string[],
    defaultText: 'none',
    description: 'Response headers a cross-origin script may read (`Access-Control-Expose-Headers`), e.g. `x-request-id`.',
  } satisfies SettingSpec<readonly string[]>,
  CORS_MAX_AGE: {
    parser: integer(0, 86_400),
    default: null,
    description: 'Seconds a browser may cache a preflight answer (`Access-Control-Max-Age`); unset: the browser decides.',
  } satisfies SettingSpec<number | null>,
  METRICS_TOKEN: {
    parser: nonEmpty('a token'),
    default: null,
    secret: true,
    description: 'When set, `/metrics` requires `Authorization: Bearer <token>` and answers 401 otherwise.',
  } satisfies SettingSpec<string | null>,
  STATIC_DIR: {
    parser: nonEmpty('a directory path'),
    default: 'app/static',
    description:
      'Directory of static files, served by the front thread (even when every worker is busy). Relative to the working ' +
      'directory. The default is skipped when missing; a directory set explicitly must exist.',
  },
  STATIC_URL: {
    parser: urlPrefix(),
    default: '/static/',
    description: 'URL prefix the static files are served under.',
  },
  STATIC_MAX_AGE: {
    parser: integer(0, 31_536_000),
    default: 3600,
    description: 'Seconds browsers and proxies may cache a static file (`Cache-Control: public, max-age=…`); ETag and Last-Modified are always sent.',
  },
  METRICS_PORT: {
    parser: integer(0, 65535),
    default: null,
    description: 'When set, `/metrics` is served on this port only (not on `PORT`), e.g. to keep it private.',
  } satisfies SettingSpec<number | null>,
  APP: {
    parser: nonEmpty('a path to a built JS module'),
    default: null,
    defaultText: 'found: package.json\'s `"drover": { "app" }`, else `dist/app/index.js`, else `app/index.js`',
    description:
      'The app module that `serve`, `check`, `routes` and `run` use when no path is given, relative to the working directory.',
  } satisfies SettingSpec<string | null>,
  BOOT_TIMEOUT: {
    parser: seconds(0.001, 3600),
    default: 30,
    description:
      'Time a worker thread has to import the app and run its `startup` hook (and `drover check` to import the app). Past it boot stops ' +
      'with an error naming the stage; a replacement thread that takes longer is given up and retried.',
  },
  SHUTDOWN_TIMEOUT: {
    parser: seconds(0, 3600),
    default: 3,
    description:
      'Time the app\'s `shutdown` hook has when a worker thread retires (recycle, reload, graceful stop). Past it the thread is stopped anyway and an ' +
      'error logged. On SIGTERM it follows the drain, so a stop takes at most GRACEFUL_TIMEOUT + SHUTDOWN_TIMEOUT (28 s by default, under the 30 s a PaaS waits).',
  },
  WORKER_RECYCLE_HEAP_MB: {
    parser: integer(0, 1_048_576),
    default: 0,
    description:
      'Recycle a worker thread gracefully (its `shutdown` hook runs, a fresh thread takes over first) once its V8 heap exceeds this many MiB ' +
      'after a request; 0 never. Keep it under WORKER_MAX_MEMORY_MB, where V8 stops the thread at once and no hook can run.',
  },
  BUS_PATH: {
    parser: nonEmpty('a file path'),
    default: 'var/events.db',
    description:
      'The embedded event database (SQLite, WAL), relative to the working directory: every process of one machine (web and worker) shares it. ' +
      'Created with its folder on first use; an app that publishes nothing never opens it. On a PaaS with an ephemeral disk it is lost on each deploy.',
  },
  EVENT_THREADS: {
    parser: integer(1, 1024),
    default: () => availableParallelism(),
    defaultText: 'number of available cores',
    description: 'Worker threads of the `events` pool, where `drover worker` runs event handlers (a handler may name another pool the app declares).',
  },
  SERVE_EVENTS: {
    parser: boolean(),
    default: true,
    description:
      'Whether `drover serve` also runs the app\'s event handlers, in an `events` pool of EVENT_THREADS threads beside the view pools (only when the app declares handlers), ' +
      'so `npm start` runs the whole app. Set it to false when a `worker:` process runs them.',
  },
  EVENT_LEASE: {
    parser: seconds(1, 3600),
    default: 30,
    description:
      'How long a claimed delivery stays with its worker without a renewal. The worker renews every third of it while the handler runs, even one busy on the CPU; ' +
      'a worker that dies (kill -9, a lost machine) stops renewing, and its deliveries run again elsewhere within this time.',
  },
  EVENT_RETENTION: {
    parser: duration(60, 366 * 86_400),
    default: 7 * 86_400,
    defaultText: '7d',
    description:
      'How long a handled event stays on the bus: within it, an idempotency key, a retried handler\'s events and a schedule tick are recognised and published once. ' +
      'Consuming processes forget older events every minute (a number of seconds, or 90m, 12h, 7d).',
  },
  EVENT_MAX_BYTES: {
    parser: integer(2, 64 * 1024 * 1024),
    default: 256 * 1024,
    description: 'Largest event payload, in bytes of JSON: a bigger one is refused at publish(), naming the topic. Put large data in a file or a store and publish its key.',
  },
});

/** drover's frozen settings, as read at boot and handed to every worker. */
export type Settings = SettingsOf<TableOf<typeof settingsTable>>;
