// Boot errors, end to end: every way an app can fail to boot stops `drover serve` (and `check`)
// with exit 1, one coded line that names the fix, and the app's own frames when its code threw.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import t, { type Test } from 'tap';
import { CLI, ROOT, eventually, spawnDrover, type Env } from './helpers/server.js';

/**
 * The tests about stacks run drover both ways:
 * - 'source maps on': NODE_OPTIONS=--enable-source-maps, as TypeScript deployments often set it.
 *   (Under tap every node child has source maps on anyway: tap's processinfo puts its --import back
 *   into NODE_OPTIONS whatever spawnDrover removes.)
 * - 'production': no NODE_OPTIONS at all, started through env(1) so that tap cannot add it back;
 *   drover then maps the app's frames itself.
 */
type Mode = 'source maps on' | 'production';
const MODES: readonly Mode[] = ['source maps on', 'production'];

/**
 * A throwaway project: `files` written into a fresh folder, removed after the test. 'repo' puts it
 * inside this repository, where `import … from 'drover'` resolves by self-reference; 'os' in the
 * system temp folder, where the folder's own package.json decides what `.js` means.
 */
function project(t: Test, files: Record<string, string>, where: 'repo' | 'os' = 'repo'): string {
  const dir = where === 'repo' ? mkdtempSync(join(ROOT, 'test', '.tmp-boot-')) : mkdtempSync(join(tmpdir(), 'drover-boot-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From spawn to the end of its output. */
  ms: number;
}

/**
 * Runs `drover ARGS` to completion (its output complete: 'close', not 'exit'); past `limitMs` the
 * child is killed, and the outcome shows it (signal SIGKILL), so a hang fails the test quickly.
 */
async function drover(t: Test, args: string[], env: Env = {}, cwd = ROOT, mode?: Mode, limitMs = 15_000): Promise<Outcome> {
  const started = performance.now();
  const child =
    mode === 'production' ? spawnAsInProduction(args, env, cwd) : spawnDrover(args, mode === 'source maps on' ? { NODE_OPTIONS: '--enable-source-maps', ...env } : env, cwd);
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  return { code, signal, stdout, stderr, ms: performance.now() - started };
}

/** spawnDrover's environment, without NODE_OPTIONS even under tap. */
function spawnAsInProduction(args: string[], env: Env, cwd: string): ChildProcess {
  const merged: Env = { ...process.env, PORT: '0', HOST: '127.0.0.1', WEB_CONCURRENCY: '2', ...env };
  for (const name of ['LOG_LEVEL', 'DEBUG', 'METRICS_PORT', 'APP', 'BOOT_TIMEOUT', 'NODE_ENV']) if (!(name in env)) delete merged[name];
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  return spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, CLI, ...args], { cwd, env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
}

const count = (text: string, what: string): number => text.split(what).length - 1;
const lines = (text: string): string[] => text.trimEnd().split('\n');
/** Stack frames in stderr (lines under the error line). */
const frames = (stderr: string): string[] => lines(stderr).slice(1).filter((l) => /^\s+at /.test(l));

t.test('a .ts app path is refused: build it and serve the compiled dist/…js', async (t) => {
  const dir = project(t, { 'app/index.ts': "import { get } from 'drover';\nexport default [get('/', () => 'hi')];\n" }, 'os');
  for (const mode of MODES) {
    for (const command of ['serve', 'check']) {
      const what = `${command}, ${mode}`;
      const r = await drover(t, [command, 'app/index.ts'], {}, dir, mode);
      t.equal(r.code, 1, `${what}: exit 1`);
      const [first, ...rest] = lines(r.stderr);
      t.match(
        first,
        /^drover: DROVER_ERR_APP_TYPESCRIPT: the app module \/.*\/app\/index\.ts is TypeScript source, which Node does not run: build it \(npm run build, i\.e\. tsc\) and serve the compiled module, e\.g\. dist\/app\/index\.js$/,
        `${what}: names the compiled counterpart and says to build`,
      );
      t.equal(count(r.stderr, 'DROVER_ERR_APP_TYPESCRIPT'), 1, `${what}: the code once`);
      t.notMatch(r.stdout, /listening/, `${what}: nothing served`);
      // drover's own refusal has no app code in it: nothing should follow the line.
      t.same(rest, [], `${what}: one line, no frames`);
    }
  }
});

t.test('CommonJS apps are refused, saying to use "type": "module" and NodeNext', async (t) => {
  t.test('(a) compiled as CommonJS in a package without "type": "module"', async (t) => {
    const dir = project(
      t,
      {
        'package.json': JSON.stringify({ name: 'shop', version: '1.0.0' }),
        'dist/app.js': '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nexports.default = [];\n',
      },
      'os',
    );
    const r = await drover(t, ['serve', 'dist/app.js'], {}, dir);
    t.equal(r.code, 1);
    t.match(
      lines(r.stderr)[0],
      /^drover: DROVER_ERR_APP_COMMONJS: the app module \/.*\/dist\/app\.js is CommonJS \(compiled with "module": "CommonJS": its route table is module\.exports\.default\); drover apps are ES modules: put "type": "module" in your package\.json and compile with "module": "NodeNext" in tsconfig\.json$/,
    );
    t.equal(count(r.stderr, 'DROVER_ERR_APP_COMMONJS'), 1, 'the code once');
    t.notMatch(r.stdout, /listening/);
  });

  t.test('(b) CommonJS code (exports.default) in a "type": "module" package', async (t) => {
    const dir = project(t, { 'package.json': '{"type":"module"}', 'app.js': 'exports.default = [];\n' }, 'os');
    const r = await drover(t, ['serve', 'app.js'], {}, dir);
    t.equal(r.code, 1);
    t.match(lines(r.stderr)[0], /^drover: DROVER_ERR_APP_COMMONJS: the app module \/.*\/app\.js is CommonJS code \(require\/exports\) in an ES module package; .*"type": "module".*"NodeNext"/);
    t.notMatch(r.stdout, /listening/);
  });

  t.test('(c) import/export in a package without "type": "module"', async (t) => {
    const dir = project(
      t,
      { 'package.json': JSON.stringify({ name: 'shop' }), 'app.js': "import { join } from 'node:path';\nexport const where = join('a', 'b');\nexport default [];\n" },
      'os',
    );
    // Node before 20.19 / 22.7 loads such a file as CommonJS; later versions reparse it as an ES
    // module (with a warning) unless told not to. These flags give the CommonJS reading everywhere.
    const classic = ['--no-experimental-detect-module', '--no-experimental-require-module'].filter((f) => process.allowedNodeEnvironmentFlags.has(f));
    const r = await drover(t, ['serve', 'app.js'], { NODE_OPTIONS: classic.join(' ') }, dir);
    t.equal(r.code, 1);
    const error = lines(r.stderr).find((l) => l.startsWith('drover: '));
    t.match(
      error,
      /^drover: DROVER_ERR_APP_COMMONJS: the app module \/.*\/app\.js uses import\/export, but Node loaded it as CommonJS \(the nearest package\.json has no "type": "module"\); .*"type": "module".*"NodeNext"/,
    );
    t.equal(count(r.stderr, 'DROVER_ERR_APP_COMMONJS'), 1, 'the code once');

    // Without the flags: a Node with syntax detection runs the app (and warns); one without refuses
    // it as above. Never a bare DROVER_ERR_APP_IMPORT.
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    const detects = major > 22 || (major === 22 && minor >= 7) || (major === 20 && minor >= 19);
    const plain = await drover(t, ['check', 'app.js'], {}, dir);
    if (detects) {
      t.equal(plain.code, 0, 'Node reparsed it as an ES module');
      t.match(plain.stdout, /^OK$/m);
      t.match(plain.stderr, /MODULE_TYPELESS_PACKAGE_JSON/, "Node's own warning says to add \"type\": \"module\"");
    } else {
      t.equal(plain.code, 1);
      t.match(plain.stderr, /DROVER_ERR_APP_COMMONJS: .*Node loaded it as CommonJS/);
    }
    t.notMatch(plain.stderr, /DROVER_ERR_APP_IMPORT/);
  });
});

t.test('a default export that is not a route list, or a bad entry in one', async (t) => {
  const dir = project(t, {
    'object.js': "import { get } from 'drover';\nexport default { routes: [get('/orders', () => [])] };\n",
    'bad-entry.js':
      "import { get } from 'drover';\nfunction listOrders() {\n  return [];\n}\nexport default [get('/health', () => 'ok'), listOrders, get('/x', () => 'x')];\n",
  });

  const object = await drover(t, ['serve', 'object.js'], {}, dir);
  t.equal(object.code, 1);
  t.match(lines(object.stderr)[0], /^drover: DROVER_ERR_APP_ROUTES: the app module \/.*\/object\.js must `export default` an array of routes made with get\(\)\/post\(\)\/route\(\); found an object$/);
  t.notMatch(object.stdout, /listening/);

  const entry = await drover(t, ['serve', 'bad-entry.js'], {}, dir);
  t.equal(entry.code, 1);
  t.match(
    lines(entry.stderr)[0],
    /^drover: DROVER_ERR_APP_ROUTE_ENTRY: entry 1 of the route table in \/.*\/bad-entry\.js is a function \(listOrders\): a view needs a route, e\.g\. get\('\/path', listOrders\), not a route; make every entry with get\(\), post\(\), put\(\), patch\(\), del\(\) or route\(\) from drover$/,
  );
  t.equal(count(entry.stderr, 'DROVER_ERR_APP_ROUTE_ENTRY'), 1, 'the code once');
  t.notMatch(entry.stdout, /listening/);
});

t.test("an import error is reported with the app's TypeScript file and line (source maps)", async (t) => {
  const source = [
    'interface Config {',
    '  readonly url: string;',
    '}',
    "const config: Config = { url: '' };",
    "if (config.url === '') throw new Error('ORDERS_DB is not set; cannot open the orders database');",
    'export default [];',
    '',
  ].join('\n');
  const dir = project(t, { 'package.json': '{"type":"module"}', 'app/index.ts': source });
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '--sourceMap', '--module', 'nodenext', '--target', 'es2022', '--outDir', join(dir, 'dist'), join(dir, 'app/index.ts')], { cwd: dir });
  t.ok(existsSync(join(dir, 'dist/index.js.map')), 'tsc wrote a source map');
  t.notMatch(readFileSync(join(dir, 'dist/index.js'), 'utf8').split('\n')[4] ?? '', /throw/, 'the compiled throw is not on line 5: the mapping matters');

  for (const mode of MODES) {
    // In production drover maps the frames itself; with source maps on, Node has mapped them.
    const r = await drover(t, ['serve', 'dist/index.js'], {}, dir, mode);
    t.equal(r.code, 1, `${mode}: exit 1`);
    const [first] = lines(r.stderr);
    t.equal(
      first,
      `drover: DROVER_ERR_APP_IMPORT: cannot load the app module ${join(dir, 'dist/index.js')}: ORDERS_DB is not set; cannot open the orders database`,
      `${mode}: the app path is in the first line`,
    );
    t.equal(count(r.stderr, 'DROVER_ERR_APP_IMPORT'), 1, `${mode}: the code once`);
    const stack = frames(r.stderr);
    t.match(stack[0], /^\s+at .*\/app\/index\.ts:5:\d+\)?$/, `${mode}: the first frame is the .ts file and line`);
    t.notMatch(r.stderr, /index\.js:\d+/, `${mode}: no compiled frames`);
    t.ok(stack.length > 0 && stack.every((f) => f.includes(dir)), `${mode}: only the app's frames`);
    t.notMatch(r.stdout, /listening/);
  }
});

t.test('BOOT_TIMEOUT cuts a boot that never finishes, naming the stage', async (t) => {
  const dir = project(t, {
    'hang-import.js': 'await new Promise(() => {});\nexport default [];\n',
    'hang-startup.js': 'export default [];\nexport async function startup() {\n  await new Promise(() => {});\n}\n',
    'busy-import.js': 'while (true) {\n  // a CPU-bound loop: only terminating the thread stops it\n}\nexport default [];\n',
  });
  const env = { BOOT_TIMEOUT: '0.5' };
  const message = (stage: string): RegExp =>
    new RegExp(
      `^drover: DROVER_ERR_BOOT_TIMEOUT: boot did not finish within BOOT_TIMEOUT \\(0\\.5 s\\) while ${stage}; look for an import or a startup hook that never settles .*, or raise BOOT_TIMEOUT$`,
    );

  for (const [file, stage] of [
    ['hang-import.js', 'importing the app module /.*/hang-import\\.js'],
    ['hang-startup.js', "running the app's startup hook"],
    ['busy-import.js', 'importing the app module /.*/busy-import\\.js'],
  ] as const) {
    const r = await drover(t, ['serve', file], env, dir);
    t.equal(r.code, 1, `${file}: exit 1`);
    t.equal(r.signal, null, `${file}: drover exited by itself`);
    t.match(lines(r.stderr)[0], message(stage), `${file}: names the stage`);
    t.equal(count(r.stderr, 'DROVER_ERR_BOOT_TIMEOUT'), 1, `${file}: the code once`);
    t.ok(r.ms >= 500 && r.ms < 8000, `${file}: within a few seconds, not hanging (${Math.round(r.ms)} ms)`);
    t.notMatch(r.stdout, /listening/);
  }

  // check and routes load the app in a thread of their own, as serve does: an import that never
  // settles, or a busy loop, fails them too (never an exit 0 with nothing printed, never a hang).
  for (const command of ['check', 'routes']) {
    for (const file of ['hang-import.js', 'busy-import.js']) {
      const checked = await drover(t, [command, file], env, dir);
      t.equal(checked.code, 1, `${command} ${file}: exit 1`);
      t.equal(checked.signal, null);
      t.match(lines(checked.stderr)[0], message(`importing the app module /.*/${file.replace('.', '\\.')}`));
      t.notMatch(checked.stdout, /^OK$/m);
    }
  }
});

t.test('SIGTERM during boot stops the process at once, saying why', async (t) => {
  const dir = project(t, {
    'app.js': [
      "import { writeFileSync } from 'node:fs';",
      "writeFileSync(new URL('./importing', import.meta.url), 'yes');",
      'await new Promise(() => {});',
      'export default [];',
      '',
    ].join('\n'),
  });
  const spawned = performance.now();
  const child = spawnDrover(['serve', 'app.js'], {}, dir); // default BOOT_TIMEOUT: 30 s
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;

  // The worker threads are importing the app (so drover's signal handlers are in place).
  await eventually(() => existsSync(join(dir, 'importing')) && performance.now() - spawned >= 500);
  const signalled = performance.now();
  child.kill('SIGTERM');
  const [code, signal] = await closed;
  const ms = performance.now() - signalled;

  t.ok(ms < 5000, `exited promptly (${Math.round(ms)} ms after SIGTERM)`);
  t.equal(signal, null, 'drover exited by itself, not killed by the signal');
  t.not(code, 0, 'non-zero exit code');
  const logs = lines(stdout).map((l) => JSON.parse(l) as { msg: string; err?: { code?: string } });
  const line = logs.find((l) => l.err?.code === 'DROVER_ERR_BOOT_INTERRUPTED');
  t.ok(line, 'a JSON log line with the code');
  t.match(line?.msg, /SIGTERM/);
  t.notOk(logs.some((l) => l.msg === 'listening'));
  t.match(lines(stderr)[0], /^drover: DROVER_ERR_BOOT_INTERRUPTED: boot interrupted by SIGTERM before the server was listening$/);
});

t.test('a startup hook that throws stops boot once, with its message', async (t) => {
  const dir = project(t, {
    'app.js': [
      "import { appendFileSync } from 'node:fs';",
      'export default [];',
      'export function startup() {',
      "  appendFileSync(new URL('./startups', import.meta.url), 'x');",
      "  throw new Error('cannot reach redis at 10.0.0.9:6379');",
      '}',
      '',
    ].join('\n'),
  });
  for (const mode of MODES) {
    rmSync(join(dir, 'startups'), { force: true });
    const r = await drover(t, ['serve', 'app.js'], { WEB_CONCURRENCY: '2' }, dir, mode);
    t.equal(r.code, 1, `${mode}: exit 1`);
    t.equal(r.signal, null, `${mode}: the process exits by itself: no respawn loop`);
    const [first] = lines(r.stderr);
    t.match(first, /^drover: DROVER_ERR_APP_STARTUP: the startup hook .*failed.*: cannot reach redis at 10\.0\.0\.9:6379$/, `${mode}: the hook's own message`);
    t.equal(count(r.stderr, 'DROVER_ERR_APP_STARTUP'), 1, `${mode}: the code once`);
    const stack = frames(r.stderr);
    t.match(stack[0], /^\s+at (Object\.)?startup \(.*\/app\.js:5:\d+\)$/, `${mode}: the hook's own frame, file:line`);
    t.ok(stack.every((f) => f.includes(dir)), `${mode}: only the app's frames`);
    t.notMatch(r.stdout, /listening/, `${mode}: no listening line`);
    const startups = readFileSync(join(dir, 'startups'), 'utf8').length;
    t.ok(startups >= 1 && startups <= 2, `${mode}: the hook ran at most once per thread, never retried (${startups})`);
  }
});

t.test('settings and startup exports of the wrong shape', async (t) => {
  const dir = project(t, {
    'plain-settings.js': 'export const settings = { PAGE_SIZE: 10 };\nexport default [];\n',
    'startup-string.js': "export const startup = 'connect';\nexport default [];\n",
  });
  const settings = await drover(t, ['serve', 'plain-settings.js'], {}, dir);
  t.equal(settings.code, 1);
  t.match(
    lines(settings.stderr)[0],
    /^drover: DROVER_ERR_APP_EXPORT: the app module \/.*\/plain-settings\.js exports `settings` as an object; declare them with `export const settings = defineSettings\(\{ … \}\)` from drover$/,
  );
  t.notMatch(settings.stdout, /listening/);

  const startup = await drover(t, ['serve', 'startup-string.js'], {}, dir);
  t.equal(startup.code, 1);
  t.match(
    lines(startup.stderr)[0],
    /^drover: DROVER_ERR_APP_EXPORT: the app module \/.*\/startup-string\.js exports `startup` as a string \("connect"\); export a function `startup\(ctx\)` \(it may be async\), or nothing$/,
  );
  t.notMatch(startup.stdout, /listening/);
});
