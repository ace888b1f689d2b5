/**
 * The project `drover init` writes: a package that depends on drover, a TypeScript app with two
 * routes, a startup hook and one setting, a test through `drover/testing`, a Procfile and an
 * `.env.example`. Pure data here (path → text); `commands/init.ts` checks the directory and writes.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { settingsTable } from '../../config/settings.js';
import { CliUsage, InitWouldOverwrite } from '../errors.js';
import { tableOf, type SettingSpec, type SettingsTable } from '../settings.js';

/**
 * drover's own package.json. This module runs as `dist/src/cli/scaffold.js`, so the package root
 * is three levels up (the same in the repository and in an installed `node_modules/drover`).
 */
const OWN_MANIFEST = new URL('../../../package.json', import.meta.url);

/** What the scaffold needs from drover's own package.json. */
export interface DroverManifest {
  readonly version: string;
  /** The prom-client range drover declares as a peer dependency; the project installs a matching one. */
  readonly promClient: string;
}

/** Reads drover's name, version and prom-client peer range from its own package.json. */
export function droverManifest(): DroverManifest {
  const manifest = JSON.parse(readFileSync(OWN_MANIFEST, 'utf8')) as {
    version?: string;
    peerDependencies?: Record<string, string>;
  };
  const promClient = manifest.peerDependencies?.['prom-client'];
  if (!manifest.version || !promClient) {
    throw new Error(`drover's package.json (${fileURLToPath(OWN_MANIFEST)}) has no version or no prom-client peer dependency`);
  }
  return { version: manifest.version, promClient };
}

/** How the new project depends on drover: the spec, and a tarball to copy into it, if any. */
export interface DroverDependency {
  /** The spec written in package.json. */
  readonly spec: string;
  /** A tarball to copy to `vendor/<name>` in the project (the spec points there). */
  readonly vendor?: { readonly name: string; readonly from: string };
}

/**
 * How the project depends on drover: `--drover SPEC` if given, else the spec the running drover
 * was installed from (installedSpec), else `^<version>`. A tarball (a path to a file, from
 * `npm pack`) is copied into the project as `vendor/<name>` and depended on there, so the project
 * installs the same on a laptop, in CI and on a PaaS build; a directory (a clone) becomes a
 * `file:` path relative to the project; anything else (a range, a git URL) is written as is.
 *
 * @example
 * droverDependency('./drover-0.1.0.tgz', '0.1.0', '/srv/blog')
 * // { spec: 'file:vendor/drover-0.1.0.tgz', vendor: { name: 'drover-0.1.0.tgz', from: '/home/me/drover-0.1.0.tgz' } }
 */
export function droverDependency(
  spec: string | undefined,
  version: string,
  project: string,
  cwd = process.cwd(),
  installed = installedSpec(),
): DroverDependency {
  if (spec === '') throw new CliUsage('--drover needs a version range, a tarball or directory path, or a git URL');
  const chosen = spec ?? installed ?? `^${version}`;
  const raw = chosen.startsWith('file:') ? chosen.slice('file:'.length) : chosen;
  const path = resolve(cwd, raw);
  if (!existsSync(path)) return { spec: chosen };
  if (statSync(path).isDirectory()) return { spec: `file:${relative(project, path) || '.'}` };
  return { spec: `file:vendor/${basename(path)}`, vendor: { name: basename(path), from: path } };
}

/**
 * How the running drover was installed, when it runs from a project's `node_modules/drover` —
 * including npx's own (`npx --package=<tarball or git URL> drover init`): the spec in that
 * project's package.json, with a relative `file:` path made absolute. drover is not on the npm
 * registry, so `^<version>` alone would not install; the spec it came from does.
 */
export function installedSpec(root = fileURLToPath(new URL('../../../', import.meta.url))): string | undefined {
  const modules = dirname(resolve(root));
  if (basename(modules) !== 'node_modules') return undefined; // a clone of drover, not an install
  const project = dirname(modules);
  try {
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    const spec = manifest.dependencies?.drover ?? manifest.devDependencies?.drover;
    if (spec === undefined) return undefined;
    return spec.startsWith('file:') ? `file:${resolve(project, spec.slice('file:'.length))}` : spec;
  } catch {
    return undefined;
  }
}

/**
 * An npm package name from a directory name: lower case, URL-safe, no leading `.` or `_`; never
 * `drover` itself (npm refuses to install a package into a project of the same name).
 */
export function packageName(dir: string): string {
  const name = basename(resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+|-+$/g, '')
    .slice(0, 214);
  return name === '' || name === 'drover' ? 'drover-app' : name;
}

/** Options of scaffoldFiles(). */
export interface ScaffoldOptions {
  /** The project's package name. */
  readonly name: string;
  /** The dependency spec of drover (see droverSpec()). */
  readonly drover: string;
  /** The prom-client range (drover's peer range). */
  readonly promClient: string;
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/** drover's settings that `.env.example` shows, the ones a new project is most likely to set. */
const ENV_EXAMPLE_SETTINGS = ['PORT', 'WEB_CONCURRENCY', 'LOG_LEVEL', 'REQUEST_TIMEOUT', 'GRACEFUL_TIMEOUT', 'SHUTDOWN_TIMEOUT', 'BOOT_TIMEOUT'] as const;

/** Text wrapped to `width` columns, each line behind `# `. */
function comment(text: string, width = 98): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(`# ${line}`);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(`# ${line}`);
  return lines;
}

/**
 * `.env.example` lines for drover's settings `names`, from the one settings table (description,
 * what is accepted, the default), so the file never drifts from what drover reads.
 */
function droverEnvExample(names: readonly string[]): string {
  const table: SettingsTable = tableOf(settingsTable);
  return names
    .map((name) => {
      const spec = table[name] as SettingSpec<unknown>;
      const value = typeof spec.default === 'function' || spec.default === null || spec.default === undefined ? '' : String(spec.default as string | number);
      const shown = spec.defaultText ?? (value === '' ? 'unset' : value);
      return [...comment(`${spec.description.replaceAll('`', '')} Default: ${shown}; accepts ${spec.parser.expected}.`), `# ${name}=${value}`, ''].join('\n');
    })
    .join('\n');
}

/** Every file of a new project, by path relative to the project directory. */
export function scaffoldFiles(options: ScaffoldOptions): Readonly<Record<string, string>> {
  return {
    'package.json': json({
      name: options.name,
      version: '0.1.0',
      private: true,
      type: 'module',
      engines: { node: '>=20' },
      scripts: {
        build: 'tsc',
        start: 'npm run build --silent && drover serve',
        dev: 'drover dev',
        test: 'npm run build --silent && tap',
      },
      drover: { app: 'dist/app/index.js' },
      // prom-client is a runtime dependency of the app: drover's peer, and the app's own metrics.
      dependencies: { drover: options.drover, 'prom-client': options.promClient },
      devDependencies: {
        '@types/node': '^20',
        tap: '^21',
        // The 5.9 line: what drover is built with, and what tap 21's TypeScript support (its ts-node
        // fork, driving TypeScript's JavaScript compiler API) runs the .ts tests with.
        typescript: '~5.9.0',
      },
      tap: { 'disable-coverage': true, include: ['test/**/*.test.ts'] },
    }),

    'tsconfig.json': json({
      compilerOptions: {
        target: 'ES2023',
        lib: ['ES2023'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: ['node'],
        strict: true,
        verbatimModuleSyntax: true,
        skipLibCheck: true,
        rootDir: '.',
        outDir: 'dist',
        sourceMap: true,
        declaration: false,
        incremental: true,
        tsBuildInfoFile: 'dist/.tsbuildinfo',
      },
      // Tests are not built: tap compiles them itself, and they test the built app in dist/.
      include: ['app'],
    }),

    'app/settings.ts': `import { defineSettings, string } from 'drover';

/** The app's own settings, read from the environment (and .env) at boot, validated, typed. */
export const settings = defineSettings({
  GREETING: { parser: string(), default: 'Hello', description: 'How the app greets visitors.' },
});
`,

    'app/index.ts': `import { get, type HookContext, type Route } from 'drover';
import { settings } from './settings.js';

// drover validates these at boot (a bad value stops it, naming the variable) and lists them in \`drover check\`.
export { settings };

/** Runs once in each worker thread before it takes requests: open pools, warm caches here. */
export async function startup(ctx: HookContext<typeof settings>): Promise<void> {
  ctx.log.info({ pool: ctx.pool }, 'worker ready');
}

/** Runs when a worker thread retires (recycle, reload, shutdown): close what startup opened. */
export async function shutdown(ctx: HookContext<typeof settings>): Promise<void> {
  ctx.log.info('worker stopping');
}

// The route table: every view runs in a worker thread; a returned object is sent as JSON.
const routes: Route[] = [
  get('/', () => ({ greeting: settings.GREETING }), { name: 'index' }),
  get('/hello/<str:name>', (req) => ({ hello: req.params.name }), { name: 'hello' }),
];
export default routes;
`,

    'test/app.test.ts': `// The app through drover's test client: the whole stack in-process, no port. Run with npm test,
// which builds first: the client serves the compiled app in dist/.
import t from 'tap';
import { testClient } from 'drover/testing';

const client = await testClient('dist/app/index.js', { env: { WEB_CONCURRENCY: '1' } });
t.teardown(() => client.close());

t.test('GET / greets', async (t) => {
  const res = await client.get('/');
  t.equal(res.status, 200);
  t.same(res.json(), { greeting: 'Hello' });
});

t.test('GET /hello/<str:name> says hello to the name', async (t) => {
  const res = await client.get('/hello/ada');
  t.equal(res.status, 200);
  t.same(res.json(), { hello: 'ada' });
  t.equal((await client.get('/hello/')).status, 404, 'an empty name does not match');
});
`,

    // A PaaS builds with \`npm run build\` first; both processes run the installed bin on the compiled app.
    Procfile: `web: node_modules/.bin/drover serve dist/app/index.js
release: node_modules/.bin/drover check dist/app/index.js
`,

    '.env.example': `# Settings come from the environment. For local work, copy this file to .env (git-ignored) and
# uncomment what you change; the real environment wins over .env, and on a PaaS they are its
# config vars. \`npx drover check\` prints every setting's effective value.

# --- The app's own settings (app/settings.ts) ---

# How the app greets visitors.
# GREETING=Hello

# --- drover's main settings (the README lists them all) ---

${droverEnvExample(ENV_EXAMPLE_SETTINGS)}`,

    '.gitignore': `node_modules/
dist/
.env
.tap/
`,
  };
}

/** True when something occupies `path`: a file, a directory, a dangling symlink, or a file where a parent directory should be. */
function inTheWay(path: string): boolean {
  try {
    return lstatSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return true;
    throw err;
  }
}

/**
 * Writes `files` into `dir` (created if missing), but only when none of them exists yet: otherwise
 * it writes nothing and throws `DROVER_ERR_INIT_EXISTS` naming every file in the way.
 */
export function writeScaffold(dir: string, files: Readonly<Record<string, string | Uint8Array>>): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) {
    throw new CliUsage(`${dir} exists and is not a directory; give drover init a new or empty directory`);
  }
  const existing = Object.keys(files).filter((path) => inTheWay(join(dir, path)));
  if (existing.length > 0) throw new InitWouldOverwrite(dir, existing.join(', '));
  for (const [path, text] of Object.entries(files)) {
    const target = join(dir, path);
    mkdirSync(dirname(target), { recursive: true });
    // `wx`: a file that appeared since the check above is still never overwritten.
    writeFileSync(target, text, { flag: 'wx' });
  }
}
