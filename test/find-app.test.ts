// Finding the app: the command line's path, else APP, else package.json's "drover": { "app" },
// else dist/app/index.js, else app/index.js — always in the user's project, never in drover's own.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t, { type Test } from 'tap';
import { ROOT, runDrover } from './helpers/server.js';

/** drover's own folder, without the trailing slash. */
const DROVER_DIR = ROOT.replace(/\/$/, '');

/** A fresh folder with `files`, removed after the test: in this repository, or in the system temp folder. */
function project(t: Test, files: Record<string, string>, where: 'repo' | 'os'): string {
  const dir = where === 'repo' ? mkdtempSync(join(ROOT, 'test', '.tmp-find-')) : mkdtempSync(join(tmpdir(), 'drover-find-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  write(dir, files);
  return dir;
}

function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

/**
 * An app with one route, `/from-<label>`, that `drover routes` shows. It imports drover by file URL,
 * so it loads even where a package.json of its own stops `drover` resolving by self-reference.
 */
const app = (label: string): string =>
  `import { get } from ${JSON.stringify(pathToFileURL(join(ROOT, 'dist/src/index.js')).href)};\nexport default [get('/from-${label}', () => '${label}')];\n`;

/** The `/from-…` patterns `drover routes` listed. */
const listed = (stdout: string): string[] => [...stdout.matchAll(/^GET\s+\/from-(\S+)\s/gm)].map((m) => m[1] as string);

t.test('no app anywhere: every command says what it tried and how to point at the app', async (t) => {
  const dir = project(t, {}, 'os');
  for (const command of ['serve', 'check', 'routes']) {
    const { code, stdout, stderr } = await runDrover([command], {}, dir);
    t.equal(code, 1, `${command}: exit 1`);
    const text = stderr.trimEnd();
    t.equal(text.split('\n').length, 1, `${command}: one line`);
    t.match(text, new RegExp(`^drover: DROVER_ERR_APP_NOT_FOUND: no app module found in ${dir}: `), `${command}: the code, and the project folder`);
    t.match(text, /tried the APP setting \(unset\)/, `${command}: lists APP`);
    t.match(text, /"drover": \{ "app" \} in package\.json \(no package\.json\)/, `${command}: lists package.json`);
    t.match(text, /dist\/app\/index\.js, app\/index\.js \(not found\)/, `${command}: lists the conventional paths`);
    t.match(
      text,
      /Point at the app with a path \(drover serve dist\/app\/index\.js\), APP=dist\/app\/index\.js, or "drover": \{ "app": "dist\/app\/index\.js" \} in package\.json/,
      `${command}: says how to point at the app`,
    );
    t.notOk(text.includes(DROVER_DIR), `${command}: never a path inside drover itself`);
    t.equal(stdout, '', `${command}: nothing on stdout`);
  }

  // The source is there but not built: say so.
  write(dir, { 'app/index.ts': 'export default [];\n', 'package.json': '{"type":"module"}' });
  const unbuilt = await runDrover(['check'], {}, dir);
  t.equal(unbuilt.code, 1);
  t.match(unbuilt.stderr, /DROVER_ERR_APP_NOT_FOUND: .*"drover": \{ "app" \} in package\.json \(not set\).*app\/index\.ts exists: build it first \(npm run build\), then run this again/);
  t.notOk(unbuilt.stderr.includes(DROVER_DIR));
});

t.test('the order: command line, APP, package.json, dist/app/index.js, app/index.js', async (t) => {
  const dir = project(t, { 'app/index.js': app('app') }, 'repo');
  const routes = async (args: string[] = [], env: Record<string, string> = {}): Promise<string[]> => {
    const { code, stdout, stderr } = await runDrover(['routes', ...args], env, dir);
    t.equal(code, 0, `routes ${args.join(' ')} ${JSON.stringify(env)}: ${stderr}`);
    return listed(stdout);
  };
  /** `check` says where the app came from. */
  const source = async (env: Record<string, string> = {}, args: string[] = []): Promise<string | undefined> => {
    const { stdout } = await runDrover(['check', ...args], env, dir);
    return /^App: (.*) \(from ([^;]+);/m.exec(stdout)?.slice(1).join(' from ');
  };

  t.same(await routes(), ['app'], 'app/index.js when it is the only one');

  write(dir, { 'dist/app/index.js': app('dist') });
  t.same(await routes(), ['dist'], 'dist/app/index.js wins over app/index.js');
  t.equal(await source(), `${join(dir, 'dist/app/index.js')} from the default location`);

  write(dir, { 'package.json': JSON.stringify({ type: 'module', drover: { app: 'app/index.js' } }) });
  t.same(await routes(), ['app'], 'package.json wins over the conventions');
  t.equal(await source(), `${join(dir, 'app/index.js')} from package.json`);

  write(dir, { 'another.js': app('another') });
  t.same(await routes([], { APP: 'another.js' }), ['another'], 'APP wins over package.json (relative to the working directory)');
  t.equal(await source({ APP: 'another.js' }), `${join(dir, 'another.js')} from the APP setting`);

  write(dir, { 'cli.js': app('cli') });
  t.same(await routes(['cli.js'], { APP: 'another.js' }), ['cli'], 'the command line wins over everything');
  t.equal(await source({ APP: 'another.js' }, ['cli.js']), `${join(dir, 'cli.js')} from the command line`);

  // A named path must exist: no falling back to the conventions.
  write(dir, { 'package.json': JSON.stringify({ type: 'module', drover: { app: 'build/server.js' } }) });
  const missing = await runDrover(['routes'], {}, dir);
  t.equal(missing.code, 1);
  t.equal(
    missing.stderr.trimEnd(),
    `drover: DROVER_ERR_APP_NOT_FOUND: the app module ${join(dir, 'build/server.js')}, named by "drover": { "app" } in package.json, does not exist`,
  );
  const missingApp = await runDrover(['routes'], { APP: 'nope.js' }, dir);
  t.equal(missingApp.code, 1);
  t.match(missingApp.stderr, /DROVER_ERR_APP_NOT_FOUND: the app module .*\/nope\.js, named by the APP setting, does not exist/);
});

t.test('run: no app found is the same error', async (t) => {
  const dir = project(t, { 'task.js': 'export default () => 0;\n' }, 'os');
  const { code, stdout, stderr } = await runDrover(['run', 'task.js'], {}, dir);
  t.equal(code, 1);
  t.match(stderr, /^drover: DROVER_ERR_APP_NOT_FOUND: no app module found in .*Point at the app with a path/);
  t.notOk(stderr.includes(DROVER_DIR));
  t.equal(stdout, '', 'the task did not run');
});

t.test("run: a task runs between the app's startup and shutdown hooks, and reverse() works", async (t) => {
  const dir = project(
    t,
    {
      'app/index.js': [
        "import { get } from 'drover';",
        "export default [get('/orders/<int:id>', () => ({}), { name: 'order' })];",
        'export function startup({ log, pool }) {',
        '  globalThis.started = true;',
        "  log.info({ pool }, 'app started');",
        '}',
        'export async function shutdown({ log }) {',
        "  log.info('app shut down');",
        '}',
        '',
      ].join('\n'),
      'tasks/link.js': [
        "import { reverse } from 'drover';",
        'export default function link(args, { log }) {',
        "  log.info({ path: reverse('order', { id: Number(args[0]) }), started: globalThis.started === true }, 'link built');",
        '  return globalThis.started === true ? 0 : 4;',
        '}',
        '',
      ].join('\n'),
    },
    'repo',
  );
  const { code, stdout, stderr } = await runDrover(['run', 'tasks/link.js', '42'], {}, dir);
  t.equal(stderr, '');
  t.equal(code, 0, 'the startup hook had run when the task did');
  const logs = stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { msg: string; [k: string]: unknown });
  t.same(
    logs.map((l) => l.msg),
    ['app started', 'link built', 'app shut down'],
    'startup, the task, shutdown, in that order',
  );
  t.match(logs[0], { pool: 'task', task: 'tasks/link.js' });
  t.match(logs[1], { path: '/orders/42', started: true, task: 'tasks/link.js' });
});
