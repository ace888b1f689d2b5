/**
 * Imports an app module and checks its route table. Runs inside worker threads (and in CLI
 * commands that only read the table); the front thread never imports app code.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AppImportFailed, AppMiddlewareInvalid, AppNotRouteTable, PoolInvalid, RouteDuplicate } from '../errors.js';
import type { Middleware } from '../http.js';
import type { PoolSpec, RouteInfo } from '../pool/protocol.js';
import { setReverseTable } from './reverse.js';
import { POOL_NAME, isRoute, type Route } from '../router.js';

/** The pool every route without a `pool` option runs in; sized by WEB_CONCURRENCY. */
export const DEFAULT_POOL = 'default';

/** What an app module provides: its route table, middleware (outermost first) and extra pools. */
export interface LoadedApp {
  readonly routes: readonly Route[];
  readonly middleware: readonly Middleware[];
  readonly pools: Readonly<Record<string, PoolSpec>>;
}

/** Resolves an app path given on the command line or in APP_MODULE against the working directory. */
export function resolveAppPath(path: string): string {
  return isAbsolute(path) ? path : resolve(process.cwd(), path);
}

/**
 * Imports the app at `path` and returns its route table and middleware, or throws a coded error
 * that keeps the app's own message. Also makes the table the one reverse() reads.
 */
export async function loadApp(path: string): Promise<LoadedApp> {
  let mod: { default?: unknown; middleware?: unknown; pools?: unknown };
  try {
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown; middleware?: unknown; pools?: unknown };
  } catch (err) {
    const error = new AppImportFailed(path, err instanceof Error ? err.message : String(err));
    error.cause = err;
    throw error;
  }
  const table = mod.default;
  if (!Array.isArray(table)) throw new AppNotRouteTable(path, describe(table));
  const bad = table.findIndex((entry) => !isRoute(entry));
  if (bad !== -1) throw new AppNotRouteTable(path, `entry ${bad}: ${describe(table[bad])}`);
  const routes = table as Route[];
  checkDuplicates(routes);
  const middleware = mod.middleware ?? [];
  if (!Array.isArray(middleware) || middleware.some((m) => typeof m !== 'function')) {
    throw new AppMiddlewareInvalid(path, Array.isArray(middleware) ? 'an array with a non-function' : describe(middleware));
  }
  const pools = checkPools(path, mod.pools ?? {}, routes);
  setReverseTable(routes);
  return Object.freeze({ routes: Object.freeze([...routes]), middleware: Object.freeze([...(middleware as Middleware[])]), pools });
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
  return Array.isArray(value) ? 'an array' : typeof value;
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
