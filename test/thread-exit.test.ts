// A worker thread that dies while importing the app or in its startup hook (process.exit(), an
// error thrown from a timer) stops boot with a coded error naming the stage and the app's frame,
// in serve and in check, instead of hanging or printing an uncoded line; drover run reports hook
// failures whatever was thrown.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, runDrover } from './helpers/server.js';

// Inside the repository, so the apps resolve `drover` by self-reference.
const dir = mkdtempSync(join(ROOT, 'test', '.tmp-exit-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const app = (name: string, code: string): string => {
  writeFileSync(join(dir, name), `import { get } from 'drover';\n${code}\nexport default [get('/', () => ({}), { name: 'home' })];\n`);
  return join(dir, name);
};
const exits = app('exits.js', 'process.exit(3);');
const timer = app('timer.js', "setTimeout(() => { throw new Error('boom in a timer'); }, 10);\nawait new Promise((r) => setTimeout(r, 300));");
const startupTimer = app(
  'startup-timer.js',
  "export async function startup() {\n  setTimeout(() => { throw new Error('boom in startup'); }, 10);\n  await new Promise((r) => setTimeout(r, 300));\n}",
);

const stage = (file: string) => `importing the app module ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`;

for (const command of ['serve', 'check']) {
  t.test(`${command}: a thread that exits while importing`, async (t) => {
    const { code, stderr } = await runDrover([command, exits], { WEB_CONCURRENCY: '1' });
    t.equal(code, 1);
    t.match(stderr, new RegExp(`^drover: DROVER_ERR_APP_THREAD_EXIT: the worker thread stopped while ${stage(exits)} \\(.*3.*\\); app code must not call process\\.exit\\(\\)`));
  });

  t.test(`${command}: an error thrown from a timer while importing names the app's line`, async (t) => {
    const { code, stderr } = await runDrover([command, timer], { WEB_CONCURRENCY: '1' });
    t.equal(code, 1);
    t.match(stderr, new RegExp(`DROVER_ERR_APP_THREAD_EXIT: the worker thread stopped while ${stage(timer)} \\(boom in a timer\\)`));
    t.match(stderr, /\n\s+at .*timer\.js:2:\d+/);
  });
}

t.test("serve: an error thrown from a timer in the startup hook", async (t) => {
  const { code, stderr } = await runDrover(['serve', startupTimer], { WEB_CONCURRENCY: '1' });
  t.equal(code, 1);
  t.match(stderr, /DROVER_ERR_APP_THREAD_EXIT: the worker thread stopped while running the app's startup hook \(boom in startup\)/);
});

t.test('drover run: a startup hook that throws a non-Error, and a shutdown hook past SHUTDOWN_TIMEOUT', async (t) => {
  const project = mkdtempSync(join(dir, 'run-'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ type: 'module', drover: { app: 'app.js' } }));
  const droverUrl = new URL('../dist/src/index.js', import.meta.url).href;
  writeFileSync(
    join(project, 'app.js'),
    `import { get } from '${droverUrl}';\n` +
      "export async function startup(ctx) { if (process.argv.includes('fail')) throw 'the database said no'; }\n" +
      'export async function shutdown() { await new Promise(() => {}); }\n' +
      "export default [get('/', () => ({}))];\n",
  );
  writeFileSync(join(project, 'task.js'), 'export default () => 0;\n');

  const failed = await runDrover(['run', 'task.js', 'fail'], {}, project);
  t.equal(failed.code, 1);
  t.match(failed.stderr, /^drover: DROVER_ERR_APP_STARTUP: the startup hook of the app module .*app\.js failed \(pool "task"\): the database said no$/m);

  const slow = await runDrover(['run', 'task.js'], { SHUTDOWN_TIMEOUT: '0.2' }, project);
  t.equal(slow.code, 0, "the task's exit code stands");
  const line = slow.stdout.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; err?: { code?: string } }).find((l) => l.err?.code === 'DROVER_ERR_APP_SHUTDOWN');
  t.match(line?.msg, /did not finish within SHUTDOWN_TIMEOUT \(0\.2 s\)/);
});
