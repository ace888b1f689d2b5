/**
 * Finding the app module of the project drover runs in, when the command line names none. Always
 * relative to the user's project (the working directory), never to drover's own package.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { AppNotFound } from '../errors.js';

/** The conventional places of a built app, tried in order after APP and package.json. */
export const CONVENTIONAL_APP_PATHS = ['dist/app/index.js', 'app/index.js'] as const;

/** Where the app path came from, for messages. */
export type AppSource = 'argument' | 'APP' | 'package.json' | 'convention';

/** A resolved app module path and where it came from. */
export interface FoundApp {
  readonly path: string;
  readonly source: AppSource;
}

/** Resolves an app path given on the command line or in APP against the working directory. */
export function resolveAppPath(path: string, cwd = process.cwd()): string {
  return isAbsolute(path) ? path : resolve(cwd, path);
}

/** The `"drover": { "app": "…" }` field of the project's package.json, if any. */
function packageJsonApp(cwd: string): string | undefined {
  const file = join(cwd, 'package.json');
  if (!existsSync(file)) return undefined;
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AppNotFound(`cannot read ${file} to look for "drover": { "app": … }: ${(err as Error).message}`);
  }
  const app = (manifest as { drover?: { app?: unknown } } | null)?.drover?.app;
  if (app === undefined) return undefined;
  if (typeof app !== 'string' || app === '') {
    throw new AppNotFound(`${file} has "drover": { "app": ${JSON.stringify(app)} }; it must be the path of the built app module, e.g. "dist/app/index.js"`);
  }
  return app;
}

const isFile = (path: string): boolean => existsSync(path) && statSync(path).isFile();

/**
 * The app module to load: the command line's path, else the APP setting, else the project's
 * package.json `"drover": { "app" }`, else `dist/app/index.js`, else `app/index.js`. A path that
 * was named (argument, APP, package.json) must exist; when nothing is found the error lists what
 * was tried and how to point at the app.
 *
 * @example
 * findApp(undefined, settings.APP) // { path: '/srv/shop/dist/app/index.js', source: 'convention' }
 */
export function findApp(argument: string | undefined, appSetting: string | null, cwd = process.cwd()): FoundApp {
  const named: [string | undefined, AppSource][] = [
    [argument, 'argument'],
    [appSetting ?? undefined, 'APP'],
  ];
  for (const [path, source] of named) if (path !== undefined) return checked(resolveAppPath(path, cwd), source);
  const fromPackage = packageJsonApp(cwd);
  if (fromPackage !== undefined) return checked(resolveAppPath(fromPackage, cwd), 'package.json');
  for (const candidate of CONVENTIONAL_APP_PATHS) {
    const path = resolveAppPath(candidate, cwd);
    if (isFile(path)) return { path, source: 'convention' };
  }
  const hasSource = isFile(join(cwd, 'app/index.ts'));
  throw new AppNotFound(
    [
      `no app module found in ${cwd}: tried the APP setting (unset), "drover": { "app" } in package.json (${existsSync(join(cwd, 'package.json')) ? 'not set' : 'no package.json'}), ` +
        `${CONVENTIONAL_APP_PATHS.join(', ')} (not found).`,
      hasSource ? 'app/index.ts exists: build it first (npm run build), then run this again.' : '',
      'Point at the app with a path (drover serve dist/app/index.js), APP=dist/app/index.js, or "drover": { "app": "dist/app/index.js" } in package.json; drover init scaffolds a new project.',
    ]
      .filter(Boolean)
      .join(' '),
  );
}

/** A path that was named must exist; a `.ts` one is refused later, with its own message. */
function checked(path: string, source: AppSource): FoundApp {
  if (!existsSync(path)) {
    const from = source === 'argument' ? 'given on the command line' : source === 'APP' ? 'named by the APP setting' : 'named by "drover": { "app" } in package.json';
    const hint = path.split(sep).includes('dist') ? ' (not built yet? run npm run build)' : '';
    throw new AppNotFound(`the app module ${path}, ${from}, does not exist${hint}`);
  }
  return { path, source };
}
