/**
 * Imports an app module and checks everything it exports: the route table, middleware, pools,
 * settings and lifecycle hooks. Runs inside worker threads (and in CLI commands that only read the
 * table); the front thread never imports app code. Every way an app can be wrong gets its own coded
 * error saying what was found and what to do.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  AppExportInvalid,
  AppImportFailed,
  AppIsCommonJs,
  AppIsTypeScript,
  AppMiddlewareInvalid,
  AppNotFound,
  AppNotRouteTable,
  AppRouteEntryInvalid,
  PoolInvalid,
  RouteDuplicate,
  SettingInvalid,
} from '../errors.js';
import type { Middleware, Request } from '../http.js';
import type { PoolSpec, RouteInfo } from '../pool/protocol.js';
import { POOL_NAME, isRoute, type Route } from '../router.js';
import { isDeclaredSettings, type DeclaredSettings, type SettingsTable } from '../settings.js';
import { appStack } from './app-errors.js';
import { checkEventHandlers, type EventHandler } from '../events/handlers.js';
import { checkSchedules, type ScheduleInfo } from '../events/schedules.js';
import type { Hook } from './contexts.js';

export type { Hook, HookContext } from './contexts.js';
import { checkMetricsRegistry } from './metrics-registry.js';
import { setReverseTable } from './reverse.js';


/** The pool every route without a `pool` option runs in; sized by WEB_CONCURRENCY. */
export const DEFAULT_POOL = 'default';

/** What an app module provides. */
export interface LoadedApp {
  readonly routes: readonly Route[];
  /** Middleware, outermost first. */
  readonly middleware: readonly Middleware[];
  readonly pools: Readonly<Record<string, PoolSpec>>;
  /** The app's `settings` export (made with defineSettings), or null. */
  readonly settings: DeclaredSettings<SettingsTable> | null;
  /** The app's settings, parsed and validated (empty without a `settings` export). */
  readonly settingValues: Readonly<Record<string, unknown>>;
  readonly startup: Hook | null;
  readonly shutdown: Hook | null;
  /** The app's 404 view (Django's handler404), run for requests that match no route. */
  readonly notFound: ((req: Request) => unknown) | null;
  /** The app's 500 view (Django's handler500): `(req, error) => response`. */
  readonly serverError: ((req: Request, error: unknown) => unknown) | null;
  /** The app's event handlers (its `events` export of on() entries). */
  readonly events: readonly EventHandler[];
  /** The app's periodic events (its `schedules` export). */
  readonly schedules: readonly ScheduleInfo[];
}

interface AppModule {
  default?: unknown;
  middleware?: unknown;
  pools?: unknown;
  settings?: unknown;
  startup?: unknown;
  shutdown?: unknown;
  notFound?: unknown;
  serverError?: unknown;
  events?: unknown;
  schedules?: unknown;
}

/** The compiled module a `.ts` path most likely corresponds to, for the error message. */
function compiledCounterpart(path: string): string {
  const rel = relative(process.cwd(), path);
  const js = rel.replace(/\.([cm]?)tsx?$/, '.$1js');
  return !rel.startsWith('..') && !isAbsolute(rel) ? `e.g. ${js.startsWith('dist/') ? js : `dist/${js}`}` : 'the .js file tsc writes to its outDir';
}

/** Imports the module, turning the ways an import fails into errors that say what to do. */
async function importApp(path: string): Promise<AppModule> {
  if (/\.[cm]?tsx?$/.test(path)) throw new AppIsTypeScript(path, compiledCounterpart(path));
  if (!existsSync(path)) throw new AppNotFound(`the app module ${path} does not exist`);
  try {
    return (await import(pathToFileURL(path).href)) as AppModule;
  } catch (err) {
    const error = err as Error & { code?: string };
    const message = String(error?.message ?? err);
    if (error?.code === 'ERR_REQUIRE_ESM') {
      throw new AppIsCommonJs(path, `is CommonJS and require()s an ES module (${message.split('\n')[0]})`);
    }
    if (/\b(require|exports|module|__dirname|__filename) is not defined in ES module scope/.test(message)) {
      throw new AppIsCommonJs(path, 'is CommonJS code (require/exports) in an ES module package');
    }
    const cycle = error?.code === 'ERR_REQUIRE_CYCLE_MODULE' && message.includes(path); // Node ≥ 20.19, an ESM file loaded as CommonJS
    if (/Cannot use import statement outside a module|Unexpected token 'export'/.test(message) || cycle) {
      throw new AppIsCommonJs(path, 'uses import/export, but Node loaded it as CommonJS (the nearest package.json has no "type": "module")');
    }
    // An app setting read while the module was imported: the settings error is the whole story.
    if (typeof error?.code === 'string' && error.code.startsWith('DROVER_ERR_SETTINGS_')) throw error;
    throw Object.assign(new AppImportFailed(path, message), { appStack: appStack(error) });
  }
}

/**
 * Imports the app at `path` and checks every export, or throws a coded error that keeps the app's
 * own message (and its stack, mapped to the TypeScript source when source maps exist). Validates
 * the app's settings against the environment drover read, and makes the route table the one
 * reverse() reads.
 *
 * @example
 * const app = await loadApp('/srv/shop/dist/app/index.js');
 * app.routes.length // 12
 */
export async function loadApp(path: string): Promise<LoadedApp> {
  const mod = await importApp(path);
  checkMetricsRegistry(path);
  const routes = routeTable(path, mod);
  checkDuplicates(routes);
  const middleware = mod.middleware ?? [];
  if (!Array.isArray(middleware) || middleware.some((m) => typeof m !== 'function')) {
    throw new AppMiddlewareInvalid(path, Array.isArray(middleware) ? 'an array with a non-function' : describe(middleware));
  }
  const pools = checkPools(path, mod.pools ?? {}, routes);
  let settings: DeclaredSettings<SettingsTable> | null = null;
  if (mod.settings !== undefined) {
    if (!isDeclaredSettings(mod.settings)) {
      throw new AppExportInvalid(path, 'settings', `as ${describe(mod.settings)}; declare them with \`export const settings = defineSettings({ … })\` from drover`);
    }
    settings = mod.settings;
  }
  // Read through the declared object, so validation and views see the very same values (a default
  // computed by a function is evaluated once per thread, not once per reader).
  const settingValues = settings ? Object.freeze(Object.fromEntries(Object.keys(settings).map((k) => [k, settings[k]]))) : Object.freeze({});
  const fn = (name: 'startup' | 'shutdown' | 'notFound' | 'serverError', signature: string): unknown => {
    const value = mod[name];
    if (value === undefined) return null;
    if (typeof value !== 'function') {
      throw new AppExportInvalid(path, name, `as ${describe(value)}; export a function \`${signature}\` (it may be async), or nothing`);
    }
    return value;
  };
  const startup = fn('startup', 'startup(ctx)') as Hook | null;
  const shutdown = fn('shutdown', 'shutdown(ctx)') as Hook | null;
  const notFound = fn('notFound', 'notFound(req)') as LoadedApp['notFound'];
  const serverError = fn('serverError', 'serverError(req, error)') as LoadedApp['serverError'];
  const events = checkEventHandlers(path, mod.events);
  const schedules = checkSchedules(path, mod.schedules);
  setReverseTable(routes);
  return Object.freeze({
    routes: Object.freeze([...routes]),
    middleware: Object.freeze([...(middleware as Middleware[])]),
    pools,
    settings,
    settingValues,
    startup,
    shutdown,
    notFound,
    serverError,
    events,
    schedules,
  });
}

/** The default export, checked: an array of routes. */
function routeTable(path: string, mod: AppModule): Route[] {
  const table = mod.default;
  const cjs = table as { __esModule?: unknown; default?: unknown } | null;
  if (typeof cjs === 'object' && cjs !== null && !Array.isArray(cjs) && (cjs.__esModule === true || Array.isArray(cjs.default))) {
    throw new AppIsCommonJs(path, 'is CommonJS (compiled with "module": "CommonJS": its route table is module.exports.default)');
  }
  if (!Array.isArray(table)) throw new AppNotRouteTable(path, describe(table));
  const bad = table.findIndex((entry) => !isRoute(entry));
  if (bad !== -1) throw new AppRouteEntryInvalid(String(bad), path, describeEntry(table[bad]));
  return table as Route[];
}

/** Validates POOL_THREADS against the pools the app declares (serve and check alike). */
export function checkPoolThreads(poolThreads: Readonly<Record<string, number>>, declared: Readonly<Record<string, PoolSpec>>): void {
  const unknown = Object.keys(poolThreads).filter((name) => !Object.hasOwn(declared, name));
  if (unknown.length > 0) {
    const names = Object.keys(declared).join(', ') || 'none';
    throw new SettingInvalid('POOL_THREADS', JSON.stringify(poolThreads), `pools the app declares (${names}); unknown: ${unknown.join(', ')}`);
  }
}

const positiveInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 1024;

/** Validates the `pools` export and that every route's pool is declared. */
function checkPools(path: string, raw: unknown, routes: readonly Route[]): Readonly<Record<string, PoolSpec>> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new PoolInvalid(`the app module ${path} exports \`pools\`, which must be an object like { heavy: { threads: 1 } }`);
  }
  const pools: Record<string, PoolSpec> = {};
  for (const [name, spec] of Object.entries(raw as Record<string, unknown>)) {
    const s = spec as Partial<PoolSpec> | null;
    if (name === DEFAULT_POOL || !POOL_NAME.test(name)) {
      throw new PoolInvalid(`pool "${name}" in ${path}: use a name like "heavy" (a-z, 0-9, _ and -), other than "${DEFAULT_POOL}"`);
    }
    const valid =
      typeof s === 'object' &&
      s !== null &&
      positiveInt(s.threads) &&
      (s.concurrency === undefined || positiveInt(s.concurrency)) &&
      (s.prefetch === undefined || s.prefetch === 0 || positiveInt(s.prefetch));
    if (!valid) {
      throw new PoolInvalid(`pool "${name}" in ${path} must be { threads: 1..1024, concurrency?: 1..1024, prefetch?: 0..1024 }; found ${JSON.stringify(spec)}`);
    }
    pools[name] = Object.freeze({
      threads: s.threads as number,
      ...(s.concurrency !== undefined ? { concurrency: s.concurrency } : {}),
      ...(s.prefetch !== undefined ? { prefetch: s.prefetch } : {}),
    });
  }
  for (const r of routes) {
    const pool = r.options.pool;
    if (pool !== undefined && pool !== DEFAULT_POOL && !Object.hasOwn(pools, pool)) {
      throw new PoolInvalid(`route "${r.pattern}" uses pool "${pool}", which ${path} does not declare; add it to \`export const pools\``);
    }
  }
  return Object.freeze(pools);
}

function describe(value: unknown): string {
  if (value === undefined) return 'no default export';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}`;
  return typeof value === 'object' ? 'an object' : `a ${typeof value} (${JSON.stringify(value)})`;
}

/** What a bad route-table entry is, shown briefly. */
function describeEntry(value: unknown): string {
  if (typeof value === 'function') return `a function${value.name ? ` (${value.name})` : ''}: a view needs a route, e.g. get('/path', ${value.name || 'view'})`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 60))}`;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const text = JSON.stringify(value) ?? '';
    return `the plain object ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
  }
  return describe(value);
}

function checkDuplicates(routes: readonly Route[]): void {
  const byName = new Map<string, string>();
  const byMethod = new Map<string, string>();
  for (const r of routes) {
    if (r.options.name !== undefined) {
      const first = byName.get(r.options.name);
      if (first !== undefined) throw new RouteDuplicate(`name "${r.options.name}"`, first, r.pattern);
      byName.set(r.options.name, r.pattern);
    }
    for (const m of r.methods) {
      const key = `${m} ${r.pattern}`;
      if (byMethod.has(key)) throw new RouteDuplicate(key, r.pattern, r.pattern);
      byMethod.set(key, r.pattern);
    }
  }
}

/** The data-only view of a route table that crosses to the front thread. */
export function describeRoutes(routes: readonly Route[]): RouteInfo[] {
  return routes.map((r, id) => ({
    id,
    methods: r.methods,
    pattern: r.pattern,
    name: r.options.name ?? null,
    timeout: r.options.timeout ?? null,
    pool: r.options.pool ?? DEFAULT_POOL,
  }));
}
