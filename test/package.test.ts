// drover as a user gets it: `npm pack`, installed from the tarball into a project outside the
// repository, a TypeScript app compiled against the installed types and served by the installed
// bin; then the same through `drover init`, whose project installs, tests and starts as is.
// End to end and slow (two npm installs, from the npm cache when it can): about a minute or two.
import { spawn, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { ROOT } from './helpers/server.js';

t.setTimeout(240_000);

const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund'];
const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

// Outside the repository, so nothing can resolve `drover` (or its dependencies) from it.
const work = realpathSync(mkdtempSync(join(tmpdir(), 'drover-package-')));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

/**
 * The environment of every child: this one without what tap and the outer `npm test` add
 * (NODE_OPTIONS preloads tap's hook, TAP_* would make a nested tap report to us, npm_* carry the
 * repository's package, PATH holds the repository's node_modules/.bin), plus `extra`.
 */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_globalconfig', 'npm_config_registry', 'npm_config_cafile']);
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name === 'NODE_OPTIONS' || /^(TAP|_TAPJS|TS_NODE)/.test(name)) continue;
    if (name.startsWith('npm_') && !keep.has(name)) continue;
    env[name] = value;
  }
  const root = ROOT.replace(/[\\/]$/, '');
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => p !== '' && !p.startsWith(root) && !p.endsWith(join('node_modules', '.bin')) && !p.includes(`${sep}node-gyp-bin`))
    .join(delimiter);
  for (const name of ['PORT', 'HOST', 'APP', 'APP_MODULE', 'LOG_LEVEL', 'DEBUG', 'METRICS_PORT', 'GREETING']) delete env[name];
  return { ...env, ...extra };
}

/** Runs a command to completion; rejects with its output when it exits non-zero. */
async function run(command: string, args: string[], cwd: string, extra: Record<string, string> = {}): Promise<string> {
  const child = spawn(command, args, { cwd, env: childEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${code}:\n${output}`);
  return output;
}

interface Server {
  url: string;
  /** The pid of the drover process (from its `listening` line). */
  pid: number;
  lines: Record<string, unknown>[];
  /** Resolves with the exit code of the spawned command. */
  exited: Promise<number | null>;
}

/** Spawns a command that ends up running `drover serve`, and waits for drover's `listening` line. */
async function serve(command: string, args: string[], cwd: string, options: SpawnOptions = {}): Promise<Server> {
  const child = spawn(command, args, {
    cwd,
    env: childEnv({ PORT: '0', HOST: '127.0.0.1', WEB_CONCURRENCY: '2' }),
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options,
  });
  t.teardown(() => {
    // A safety net for a failed test: the whole group (npm, its shell and drover), or the child.
    try {
      if (options.detached) process.kill(-(child.pid as number), 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  });
  const lines: Record<string, unknown>[] = [];
  let raw = '';
  child.stderr!.on('data', (d: Buffer) => (raw += d.toString()));
  // 'close', not 'exit': every holder of the pipes (npm, its shell, drover) is gone and every line read.
  const exited = once(child, 'close').then(([code]) => code as number | null);
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line within 30 s:\n${raw}`)), 30_000);
    void exited.then((code) => reject(new Error(`${command} ${args.join(' ')} exited ${code} before listening:\n${raw}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      raw += `${line}\n`;
      if (!line.startsWith('{')) return; // npm's "> x start" banner
      const parsed = JSON.parse(line) as Record<string, unknown>;
      lines.push(parsed);
      if (parsed.msg === 'listening') {
        clearTimeout(timer);
        resolve(parsed);
      }
    });
  });
  return { url: listening.url as string, pid: listening.pid as number, lines, exited };
}

/** Where `specifier` resolves from `dir`, as Node resolves an app's import. */
async function resolveFrom(dir: string, specifier: string): Promise<string> {
  const out = await run(process.execPath, ['--input-type=module', '-e', `console.log(import.meta.resolve(${JSON.stringify(specifier)}))`], dir);
  return fileURLToPath(out.trim());
}

let tarball = '';

t.test('npm pack builds drover and packs the CLI, JS, declarations with maps, sources and README', async (t) => {
  const packDir = join(work, 'pack');
  mkdirSync(packDir);
  await run('npm', ['pack', '--pack-destination', packDir, ...NPM_FLAGS], ROOT); // prepare builds first
  const [name, ...others] = readdirSync(packDir);
  t.same(others, [], 'one tarball');
  t.equal(name, `drover-${own.version}.tgz`);
  tarball = join(packDir, name as string);

  const files = (await run('tar', ['-tzf', tarball], work)).trim().split('\n').map((f) => f.replace(/^package\//, ''));
  for (const file of ['package.json', 'README.md', 'dist/src/cli/cli.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/index.d.ts.map', 'dist/src/index.js.map', 'dist/src/testing.d.ts', 'dist/config/settings.d.ts.map', 'src/index.ts', 'config/settings.ts']) {
    t.ok(files.includes(file), `has ${file}`);
  }
  t.ok(files.filter((f) => f.endsWith('.d.ts.map')).length >= files.filter((f) => f.endsWith('.d.ts')).length, 'every declaration has its map');
  const unwanted = files.filter((f) => /^(dist\/(app|bench|test)\/|app\/|bench\/|test\/)|tsbuildinfo|\.tgz$/.test(f));
  t.same(unwanted, [], 'no example app, bench, tests or build info');
});

t.test('a fresh project: install the tarball, compile a TypeScript app against its types, serve it', async (t) => {
  t.ok(tarball, 'packed');
  const project = join(work, 'shop');
  mkdirSync(join(project, 'app'), { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'shop', private: true, type: 'module' }, null, 2));
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, rootDir: '.', outDir: 'dist', sourceMap: true, types: ['node'] },
      include: ['app'],
    }),
  );
  // Typed against the installed declarations: strict mode fails on a module without types, and
  // `req.params.id` is a number only if the pattern literal's types came through.
  writeFileSync(
    join(project, 'app/index.ts'),
    `import { get, json, reverse, type Route } from 'drover';
import type { TestClient } from 'drover/testing';

export type Client = TestClient;
const routes: Route[] = [
  get('/', () => ({ shop: 'open', item: reverse('item', { id: 7 }) })),
  get('/items/<int:id>', (req) => {
    const id: number = req.params.id;
    return json({ id, double: id * 2 }, { status: 200 });
  }, { name: 'item' }),
];
export default routes;
`,
  );
  // Only drover and the compiler: drover's own dependencies, and prom-client (its peer dependency)
  // must come with it.
  await run('npm', ['install', tarball, 'typescript@~5.9.0', '@types/node@^20', ...NPM_FLAGS], project);

  const installed = join(project, 'node_modules', 'drover');
  t.notOk(lstatSync(installed).isSymbolicLink(), 'drover is installed as files, not linked');
  t.equal(await resolveFrom(project, 'drover'), join(installed, 'dist/src/index.js'), 'drover resolves inside the project');
  t.equal(await resolveFrom(project, 'drover/testing'), join(installed, 'dist/src/testing.js'));
  const fromDrover = createRequire(join(installed, 'package.json'));
  t.equal(fromDrover.resolve('prom-client'), join(project, 'node_modules/prom-client/index.js'), "one prom-client, the project's (peer)");
  for (const dep of ['fastify', 'pino', 'piscina', 'dotenv', '@fastify/static']) {
    t.ok(fromDrover.resolve(dep).startsWith(join(project, 'node_modules') + sep), `${dep} installed with drover`);
  }
  for (const map of ['dist/src/index.d.ts.map', 'dist/src/cli/cli.js.map']) {
    const { sources } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as { sources: string[] };
    for (const source of sources) t.ok(existsSync(resolve(dirname(join(installed, map)), source)), `${map} → ${source} is shipped`);
  }

  await run(join(project, 'node_modules/.bin/tsc'), ['-p', '.'], project);
  t.ok(existsSync(join(project, 'dist/app/index.js')), 'compiled');

  const server = await serve(join(project, 'node_modules/.bin/drover'), ['serve', 'dist/app/index.js'], project);
  const home = await fetch(`${server.url}/`);
  t.equal(home.status, 200);
  t.same(await home.json(), { shop: 'open', item: '/items/7' });
  const item = await fetch(`${server.url}/items/21`);
  t.equal(item.status, 200);
  t.same(await item.json(), { id: 21, double: 42 });
  t.equal((await fetch(`${server.url}/items/x`)).status, 404);
  process.kill(server.pid, 'SIGTERM');
  t.equal(await server.exited, 0, 'SIGTERM: drains and exits 0');
  t.match(server.lines.at(-1), { msg: 'stopped', exitCode: 0 });

  // Several web processes: node:cluster forks the installed CLI again, from the user's project.
  const env = childEnv({ PORT: '0', HOST: '127.0.0.1', WEB_CONCURRENCY: '1', WEB_PROCESSES: '2' });
  const supervised = await serve(join(project, 'node_modules/.bin/drover'), ['serve', 'dist/app/index.js'], project, { env });
  t.equal((await fetch(`${supervised.url}/items/21`)).status, 200);
  // Both booted: a SIGTERM before that interrupts boot (exit 1), as for one process.
  for (let waited = 0; !supervised.lines.some((l) => l.msg === 'web processes ready') && waited < 30_000; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const supervisor = supervised.lines.find((l) => l.msg === 'supervising web processes')?.pid as number;
  t.ok(supervisor && supervisor !== supervised.pid, 'a supervisor above the web process that listens');
  process.kill(supervisor, 'SIGTERM');
  t.equal(await supervised.exited, 0, 'SIGTERM to the supervisor: both processes drain, exit 0');
  t.equal(supervised.lines.filter((l) => l.msg === 'stopped').length, 2);
});

t.test('drover init from the installed package: npm install, npm test and npm start work as is', async (t) => {
  const bin = join(work, 'shop/node_modules/.bin/drover');
  t.ok(existsSync(bin), 'the previous test installed drover');
  // No --drover: init depends on what the running drover was installed from (the shop's tarball),
  // copied into the project, since ^version would not install from the registry.
  const out = await run(bin, ['init', 'blog'], work);
  t.equal(readFileSync(join(work, 'blog', 'vendor', `drover-${own.version}.tgz`)).length, readFileSync(tarball).length, 'the tarball is vendored');
  t.match(out, /cd blog && npm install && npm test && npm start/);
  const project = join(work, 'blog');
  const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  t.equal(pkg.dependencies.drover, `file:vendor/drover-${own.version}.tgz`);

  await run('npm', ['install', ...NPM_FLAGS], project);
  t.equal(await resolveFrom(project, 'drover'), join(project, 'node_modules/drover/dist/src/index.js'));
  const tested = await run('npm', ['test'], project);
  t.match(tested, /# \{ total: \d+, pass: \d+ \}/, 'the scaffolded test passes');
  t.notMatch(tested, /fail: \d+/);

  // `npm start` (build, then `drover serve` through npm and a shell): stop drover itself, as the
  // shell would pass on a PaaS's SIGTERM, and npm exits with drover's code.
  const server = await serve('npm', ['start'], project, { detached: true });
  const home = await fetch(`${server.url}/`);
  t.equal(home.status, 200);
  t.same(await home.json(), { greeting: 'Hello' });
  const hello = await fetch(`${server.url}/hello/world`);
  t.equal(hello.status, 200);
  t.same(await hello.json(), { hello: 'world' });
  process.kill(server.pid, 'SIGTERM');
  t.equal(await server.exited, 0, 'npm start exits 0 after SIGTERM');
  t.match(server.lines.at(-1), { msg: 'stopped', exitCode: 0 });
  t.ok(server.lines.some((l) => l.msg === 'worker ready'), 'the startup hook ran');
  t.ok(server.lines.some((l) => l.msg === 'worker stopping'), 'the shutdown hook ran');

  // As a PaaS slug: built, dev dependencies pruned (prom-client stays, as drover's peer), then the
  // Procfile's commands exactly as written.
  await run('npm', ['prune', '--omit=dev', ...NPM_FLAGS], project);
  t.notOk(existsSync(join(project, 'node_modules/typescript')), 'pruned');
  const procfile = Object.fromEntries(
    readFileSync(join(project, 'Procfile'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim().split(/\s+/)] as const),
  );
  const [release, ...releaseArgs] = procfile.release as string[];
  t.match(await run(join(project, release as string), releaseArgs, project), /^OK$/m, 'release: drover check passes');
  const [web, ...webArgs] = procfile.web as string[];
  const slug = await serve(join(project, web as string), webArgs, project);
  t.equal((await fetch(`${slug.url}/hello/paas`)).status, 200);
  process.kill(slug.pid, 'SIGTERM');
  t.equal(await slug.exited, 0, 'web: serves, and exits 0 on SIGTERM');
});
