// `drover init`: the files it scaffolds, the drover dependency it writes, and that it never
// overwrites. Fast: no npm install here (test/package.test.ts installs and runs a scaffold).
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import t from 'tap';
import { settingsTable } from '../dist/config/settings.js';
import { droverDependency, installedSpec, packageName } from '../dist/src/cli/scaffold.js';
import { ROOT, runDrover } from './helpers/server.js';

const FILES = ['package.json', 'tsconfig.json', 'app/settings.ts', 'app/index.ts', 'test/app.test.ts', 'Procfile', '.env.example', '.gitignore'];
const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; peerDependencies: Record<string, string> };

// Outside the repository, as a user's project would be.
const base = mkdtempSync(join(tmpdir(), 'drover-init-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));

/** Every file under `dir`, relative, sorted. */
const filesIn = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort();

interface Manifest {
  name: string;
  type: string;
  private: boolean;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  drover: { app: string };
  tap: Record<string, unknown>;
}
const manifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

t.test('init DIR creates the directory and writes a whole project', async (t) => {
  const { code, stdout, stderr } = await runDrover(['init', 'shop'], {}, base);
  t.equal(code, 0, stderr);
  const dir = join(base, 'shop');
  t.same(filesIn(dir), [...FILES].sort());
  t.match(stdout, /cd shop && npm install && npm test && npm start/, 'prints the next steps');

  const pkg = manifest(dir);
  t.match(pkg, { name: 'shop', type: 'module', private: true, drover: { app: 'dist/app/index.js' } });
  t.same(
    pkg.dependencies,
    { drover: `^${own.version}`, 'prom-client': own.peerDependencies['prom-client'] },
    "drover at ^ the running version (run from a clone, not an install), prom-client at drover's peer range",
  );
  t.match(pkg.devDependencies, { typescript: '~5.9.0', tap: '^21', '@types/node': '^20' });
  t.match(pkg.scripts, {
    build: 'tsc',
    start: 'npm run build --silent && drover serve',
    dev: 'drover dev',
    test: 'npm run build --silent && tap',
  });
  t.match(pkg.tap, { 'disable-coverage': true, include: ['test/**/*.test.ts'] });

  const tsconfig = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8')) as {
    compilerOptions: Record<string, unknown>;
    include: string[];
  };
  t.match(tsconfig.compilerOptions, {
    strict: true,
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    rootDir: '.',
    outDir: 'dist',
    sourceMap: true,
    declaration: false,
  });
  t.same(tsconfig.include, ['app'], 'tests are compiled by tap, not tsc');

  t.equal(
    readFileSync(join(dir, 'Procfile'), 'utf8'),
    'web: node_modules/.bin/drover serve dist/app/index.js\nrelease: node_modules/.bin/drover check dist/app/index.js\n',
  );
  t.match(readFileSync(join(dir, 'app/index.ts'), 'utf8'), /export async function startup\(/);
  t.match(readFileSync(join(dir, 'test/app.test.ts'), 'utf8'), /from 'drover\/testing'/);
  const gitignore = readFileSync(join(dir, '.gitignore'), 'utf8').split('\n');
  for (const entry of ['node_modules/', 'dist/', '.env', '.tap/']) t.ok(gitignore.includes(entry), `.gitignore: ${entry}`);
});

t.test(".env.example names the app's setting and drover's main ones, each a real setting", async (t) => {
  const { code } = await runDrover(['init', 'env-check'], {}, base);
  t.equal(code, 0);
  const text = readFileSync(join(base, 'env-check', '.env.example'), 'utf8');
  const named = [...text.matchAll(/^# ([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1] as string);
  t.same(named, ['GREETING', 'PORT', 'WEB_CONCURRENCY', 'LOG_LEVEL', 'REQUEST_TIMEOUT', 'GRACEFUL_TIMEOUT', 'SHUTDOWN_TIMEOUT', 'BOOT_TIMEOUT']);
  // Generated from the settings table: the defaults shown are drover's.
  t.match(text, /^# PORT=8000$/m);
  t.match(text, /^# SHUTDOWN_TIMEOUT=3$/m);
  // However the comment wraps: its lines joined.
  t.match(text.replace(/\n# /g, ' '), /Default: number of available cores; accepts an integer from 1 to 1024\. WEB_CONCURRENCY=$/m);
  const known = Object.keys(settingsTable);
  for (const name of named.slice(1)) t.ok(known.includes(name), `${name} is one of drover's settings`);
  for (const name of named) t.match(text, new RegExp(`^# [^\\n]+\\n# ${name}=`, 'm'), `${name} has a comment saying what it does`);
});

t.test('init without DIR scaffolds the current directory, named after it', async (t) => {
  const dir = join(base, 'My Blog');
  mkdirSync(dir);
  const { code, stdout } = await runDrover(['init'], {}, dir);
  t.equal(code, 0);
  t.same(filesIn(dir), [...FILES].sort());
  t.equal(manifest(dir).name, 'my-blog', 'a valid npm name from the directory name');
  t.match(stdout, /^ {2}npm install && npm test && npm start$/m, 'no cd when the project is here');
});

t.test('--drover SPEC: a tarball is vendored, a directory is a relative file: path, anything else is as given', async (t) => {
  const tarball = join(base, 'drover-9.9.9.tgz');
  writeFileSync(tarball, 'tarball bytes');
  const fromPath = await runDrover(['init', 'from-tarball', '--drover', './drover-9.9.9.tgz'], {}, base);
  t.equal(fromPath.code, 0, fromPath.stderr);
  t.equal(manifest(join(base, 'from-tarball')).dependencies.drover, 'file:vendor/drover-9.9.9.tgz', 'the path is relative to where init ran');
  t.equal(readFileSync(join(base, 'from-tarball', 'vendor', 'drover-9.9.9.tgz'), 'utf8'), 'tarball bytes', 'copied into the project');

  const fromDir = await runDrover(['init', 'from-clone', `--drover=${ROOT}`], {}, base);
  t.equal(fromDir.code, 0);
  t.equal(manifest(join(base, 'from-clone')).dependencies.drover, `file:${relative(join(base, 'from-clone'), ROOT)}`);

  const fromGit = await runDrover(['init', 'from-git', '--drover', 'github:acme/drover#v0.2.0'], {}, base);
  t.equal(fromGit.code, 0);
  t.equal(manifest(join(base, 'from-git')).dependencies.drover, 'github:acme/drover#v0.2.0');
});

t.test('never overwrites: one existing file, and nothing is written', async (t) => {
  const dir = join(base, 'existing');
  mkdirSync(dir);
  writeFileSync(join(dir, 'Procfile'), 'web: my own\n');
  const { code, stdout, stderr } = await runDrover(['init', dir], {}, base);
  t.equal(code, 1);
  t.match(stderr, /^drover: DROVER_ERR_INIT_EXISTS: drover init wrote nothing: .*existing already has Procfile; choose an empty directory/);
  t.equal(stdout, '');
  t.same(filesIn(dir), ['Procfile'], 'no other file appeared');
  t.equal(readFileSync(join(dir, 'Procfile'), 'utf8'), 'web: my own\n', 'the existing file is untouched');

  const blocked = join(base, 'blocked');
  mkdirSync(blocked);
  writeFileSync(join(blocked, 'app'), 'a file where the app/ folder goes');
  const notDir = await runDrover(['init', 'blocked'], {}, base);
  t.equal(notDir.code, 1);
  t.match(notDir.stderr, /DROVER_ERR_INIT_EXISTS: .*blocked already has app\/settings\.ts, app\/index\.ts;/);
  t.same(filesIn(blocked), ['app']);

  const again = await runDrover(['init', 'shop'], {}, base);
  t.equal(again.code, 1, 'a second init into a scaffolded project fails');
  t.match(again.stderr, /DROVER_ERR_INIT_EXISTS: .*already has package\.json, tsconfig\.json, app\/settings\.ts/);
});

t.test('usage errors: an unknown flag, two directories, a file as DIR', async (t) => {
  const flag = await runDrover(['init', 'x', '--force'], {}, base);
  t.equal(flag.code, 2);
  t.match(flag.stderr, /DROVER_ERR_CLI_USAGE: Unknown option '--force' for "drover init \[DIR\] \[--drover SPEC\]"; valid options: --drover, --help/);
  const two = await runDrover(['init', 'a', 'b'], {}, base);
  t.equal(two.code, 2);
  t.match(two.stderr, /DROVER_ERR_CLI_USAGE: too many arguments for "drover init/);
  const noValue = await runDrover(['init', 'x', '--drover'], {}, base);
  t.equal(noValue.code, 2, '--drover needs a value');
  t.match(noValue.stderr, /DROVER_ERR_CLI_USAGE: .*--drover/);
  writeFileSync(join(base, 'a-file'), '');
  const file = await runDrover(['init', 'a-file'], {}, base);
  t.equal(file.code, 2);
  t.match(file.stderr, /a-file exists and is not a directory/);
  for (const dir of ['x', 'a', 'b']) t.throws(() => readdirSync(join(base, dir)), `${dir} was not created`);
});

t.test('package names and dependency specs', async (t) => {
  t.equal(packageName('/srv/Shop Front'), 'shop-front');
  t.equal(packageName('/srv/.hidden_'), 'hidden_');
  t.equal(packageName('/srv/drover'), 'drover-app', 'never drover itself');
  t.equal(packageName('/srv/!!!'), 'drover-app');
  t.same(droverDependency(undefined, '1.2.3', join(base, 'p'), base, undefined), { spec: '^1.2.3' });
  t.same(droverDependency('next', '1.2.3', join(base, 'p'), base), { spec: 'next' });
  t.same(droverDependency('drover-9.9.9.tgz', '1.2.3', join(base, 'p'), base), {
    spec: 'file:vendor/drover-9.9.9.tgz',
    vendor: { name: 'drover-9.9.9.tgz', from: join(base, 'drover-9.9.9.tgz') },
  });
  t.same(droverDependency(undefined, '1.2.3', join(base, 'p'), base, `file:${join(base, 'drover-9.9.9.tgz')}`).spec, 'file:vendor/drover-9.9.9.tgz', 'the installed-from tarball too');
});

t.test('without --drover, the spec the running drover was installed from (npx or a project)', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'drover-spec-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const project = join(base, 'npx-cache');
  mkdirSync(join(project, 'node_modules', 'drover'), { recursive: true });
  writeFileSync(join(project, 'package.json'), JSON.stringify({ dependencies: { drover: 'file:../drover-0.1.0.tgz' } }));
  t.equal(installedSpec(join(project, 'node_modules', 'drover')), `file:${join(base, 'drover-0.1.0.tgz')}`, 'a relative file: spec, made absolute');
  writeFileSync(join(project, 'package.json'), JSON.stringify({ dependencies: { drover: 'git+https://git.example/drover.git#v0.1.0' } }));
  t.equal(installedSpec(join(project, 'node_modules', 'drover')), 'git+https://git.example/drover.git#v0.1.0');
  t.equal(installedSpec(ROOT), undefined, 'a clone of drover is not an install');
});
