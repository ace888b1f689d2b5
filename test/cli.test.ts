// The drover command: help, routes, check, run.
import t from 'tap';
import { fixture, runDrover } from './helpers/server.js';

t.test('--help lists every command', async (t) => {
  const { code, stdout } = await runDrover(['--help']);
  t.equal(code, 0);
  for (const usage of ['drover serve [--reload] [APP]', 'drover routes [APP]', 'drover check [APP]', 'drover run MODULE [ARGS...]']) {
    t.ok(stdout.includes(usage), usage);
  }
});

t.test('routes: one line per route with methods, pattern, name, timeout, pool', async (t) => {
  const { code, stdout } = await runDrover(['routes', fixture('faults.js')], { REQUEST_TIMEOUT: '20' });
  t.equal(code, 0);
  const lines = stdout.trim().split('\n');
  t.match(lines[0], /^METHODS\s+PATTERN\s+NAME\s+TIMEOUT\s+POOL$/);
  t.equal(lines.length, 17, 'a header and 16 routes');
  t.match(stdout, /^GET\s+\/ok\s+-\s+20s \(default\)\s+default$/m);
  t.match(stdout, /^GET\s+\/quick-timeout\s+-\s+0\.3s\s+default$/m);
});

t.test('routes of the example app name its routes', async (t) => {
  const { stdout } = await runDrover(['routes']);
  t.match(stdout, /^GET\s+\/items\/<int:id>\s+item\s+/m);
});

t.test('check prints the effective settings, secrets masked', async (t) => {
  const { code, stdout } = await runDrover(['check'], { METRICS_TOKEN: 'hunter2', WEB_CONCURRENCY: '3' });
  t.equal(code, 0);
  t.match(stdout, /^ {2}WEB_CONCURRENCY=3$/m);
  t.match(stdout, /^ {2}METRICS_TOKEN=\*\*\*\*$/m);
  t.notMatch(stdout, /hunter2/);
  t.match(stdout, /^App: .*dist\/app\/index\.js \(from the default location; 16 routes, 1 middleware\)$/m);
  t.match(stdout, /^Pools: default=3, heavy=1 threads$/m);
  t.match(stdout, /^App settings:\n {2}REPORT_ROWS=1000\n {2}APP_DB=var\/app\.db\n {2}UPLOADS_DIR=var\/uploads\n {2}DOWNLOADS_DIR=app\/static$/m, "the app's own settings");
  t.match(stdout, /^Hooks: startup, shutdown$/m);
  t.match(stdout, /^OK$/m);
});

t.test('check fails naming a bad setting or a broken app', async (t) => {
  const bad = await runDrover(['check'], { MAX_QUEUE: 'lots' });
  t.not(bad.code, 0);
  t.match(bad.stderr, /setting MAX_QUEUE="lots" is invalid/);
  const broken = await runDrover(['check', fixture('broken-import.js')]);
  t.equal(broken.code, 1);
  t.match(broken.stderr, /DROVER_ERR_APP_IMPORT: .*DATABASE_URL is not set/);
});

t.test('run: an admin task with the same settings and logger', async (t) => {
  const ok = await runDrover(['run', 'dist/app/tasks/warm-report.js', '1000']);
  t.equal(ok.code, 0);
  const line = JSON.parse(ok.stdout.trim().split('\n').at(-1) as string) as Record<string, unknown>;
  t.match(line, { msg: 'report built', rows: 1000, task: 'dist/app/tasks/warm-report.js', level: 30 });

  const mismatch = await runDrover(['run', 'dist/app/tasks/warm-report.js', '5']);
  t.equal(mismatch.code, 3, 'the task\'s exit code');

  const quiet = await runDrover(['run', 'dist/app/tasks/warm-report.js'], { LOG_LEVEL: 'warn' });
  t.equal(quiet.stdout, '', 'LOG_LEVEL applies as in the web process');
});

t.test('run: a failing task is logged and exits 1', async (t) => {
  const { code, stdout } = await runDrover(['run', fixture('task-fails.js')]);
  t.equal(code, 1);
  t.match(JSON.parse(stdout.trim()), { level: 50, msg: 'task failed', err: { message: 'the migration table is locked' } });
});

t.test('run: usage errors', async (t) => {
  const none = await runDrover(['run']);
  t.equal(none.code, 2);
  t.match(none.stderr, /drover run needs a MODULE path/);
  const notTask = await runDrover(['run', fixture('not-a-table.js')]);
  t.equal(notTask.code, 2);
  t.match(notTask.stderr, /must export default a function/);
});
