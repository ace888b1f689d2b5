// `drover dev`: the project's tsc --watch with its errors shown as they happen; a compile with
// errors keeps the last good build serving (and says so); a clean compile reloads once, one line.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { ROOT, spawnDrover } from './helpers/server.js';

// Inside the repository, so tsc resolves from its node_modules; drover is linked in as a
// dependency (test/package.test.ts covers a real install).
const dir = mkdtempSync(join(ROOT, 'test', '.tmp-devloop-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'app'));
mkdirSync(join(dir, 'node_modules'));
symlinkSync(ROOT, join(dir, 'node_modules', 'drover'), 'dir');
writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', drover: { app: 'dist/app/index.js' } }));
writeFileSync(
  join(dir, 'tsconfig.json'),
  JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', outDir: 'dist', rootDir: '.', sourceMap: true, skipLibCheck: true }, include: ['app'] }),
);
const source = (body: string) => `import { get } from 'drover';\n${body}\nexport default [get('/v', () => ({ v }))];\n`;
writeFileSync(join(dir, 'app', 'index.ts'), source("const v: string = 'one';"));

t.test('compile errors are shown, the last good build keeps serving, a clean compile reloads once', async (t) => {
  const child = spawnDrover(['dev'], { LOG_FORMAT: 'json', WEB_CONCURRENCY: '1' }, dir);
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const out: string[] = [];
  let err = '';
  createInterface({ input: child.stdout! }).on('line', (l) => out.push(l));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const waitFor = async (test: () => boolean, what: string) => {
    const end = Date.now() + 30_000;
    while (!test()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\nstdout:\n${out.join('\n')}\nstderr:\n${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const logs = () => out.map((l) => JSON.parse(l) as { msg: string; url?: string; reason?: string });
  await waitFor(() => logs().some((l) => l.msg === 'listening'), 'listening');
  const url = logs().find((l) => l.msg === 'listening')?.url as string;
  t.same(await (await fetch(`${url}/v`)).json(), { v: 'one' });

  writeFileSync(join(dir, 'app', 'index.ts'), source('const v: string = 2;'));
  await waitFor(() => /error TS2322/.test(err), "tsc's error on stderr");
  await waitFor(() => logs().some((l) => /still serving the last good build/.test(l.msg)), 'the warning');
  t.same(await (await fetch(`${url}/v`)).json(), { v: 'one' }, 'the last good build serves');

  writeFileSync(join(dir, 'app', 'index.ts'), source("const v: string = 'two';"));
  await waitFor(() => logs().some((l) => l.msg === 'workers reloaded'), 'the reload');
  t.same(await (await fetch(`${url}/v`)).json(), { v: 'two' });
  await new Promise((r) => setTimeout(r, 1000));
  t.equal(logs().filter((l) => l.msg === 'workers reloaded').length, 1, 'one reload, one line');

  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number];
  t.equal(code, 0);
});
