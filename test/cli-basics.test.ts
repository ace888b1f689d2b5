// The drover command line itself: --version, help, and strict arguments (a typo is exit 2 with the
// valid choices, never a silently ignored flag).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ROOT, runDrover } from './helpers/server.js';

// Run from an empty folder: a command that wrongly went ahead fails on the missing app instead of
// serving (and hanging) the example app.
const cwd = mkdtempSync(join(tmpdir(), 'drover-cli-'));
t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
const drover = (...args: string[]) => runDrover(args, {}, cwd);

t.test("--version prints package.json's version", async (t) => {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-v', 'version']) {
    const { code, stdout, stderr } = await drover(flag);
    t.equal(code, 0, `${flag}: exit 0`);
    t.equal(stdout, `${version}\n`, `${flag}: the version alone`);
    t.equal(stderr, '');
  }
});

t.test('help: every command, and one command in detail', async (t) => {
  const all = await drover('help');
  t.equal(all.code, 0);
  t.match(all.stdout, /^Usage: drover <command> \[options\]\n/);
  for (const usage of ['drover serve [--reload] [APP]', 'drover check [APP]', 'drover routes [APP]', 'drover run MODULE [ARGS...]', 'drover help [COMMAND]', 'drover --version']) {
    t.ok(all.stdout.includes(usage), usage);
  }

  const topic = await drover('help', 'serve');
  t.equal(topic.code, 0);
  t.match(topic.stdout, /^Usage: drover serve \[--reload\] \[APP\]\n/);
  t.match(topic.stdout, /^ {2}--reload {2}reload the workers when files next to APP change/m);
  t.match(topic.stdout, /^ {2}--help {2}Show this help\.$/m);
  t.equal(topic.stderr, '');

  const flag = await drover('serve', '--help');
  t.equal(flag.code, 0, 'serve --help shows help instead of serving');
  t.equal(flag.stdout, topic.stdout, 'the same help as drover help serve');

  const unknown = await drover('help', 'frobnicate');
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /DROVER_ERR_CLI_USAGE: unknown command "frobnicate"/);
});

t.test('an unknown option is a usage error listing the valid ones', async (t) => {
  const serve = await drover('serve', '--bogus');
  t.equal(serve.code, 2);
  t.equal(serve.stderr, 'drover: DROVER_ERR_CLI_USAGE: Unknown option \'--bogus\' for "drover serve [--reload] [APP]"; valid options: --reload, --help\n');
  t.equal(serve.stdout, '', 'nothing started');

  const check = await drover('check', '--reload');
  t.equal(check.code, 2, "another command's option is unknown here");
  t.match(check.stderr, /DROVER_ERR_CLI_USAGE: Unknown option '--reload' for "drover check \[APP\]"; valid options: --help$/m);
});

t.test('an unknown command lists the commands', async (t) => {
  const { code, stdout, stderr } = await drover('frobnicate');
  t.equal(code, 2);
  t.equal(stderr, 'drover: DROVER_ERR_CLI_USAGE: unknown command "frobnicate"; commands: serve, worker, events, dev, check, routes, run, init, help; run "drover --help" for details\n');
  t.equal(stdout, '');
});

t.test('too many arguments', async (t) => {
  const { code, stderr } = await drover('routes', 'a', 'b');
  t.equal(code, 2);
  t.equal(stderr, 'drover: DROVER_ERR_CLI_USAGE: too many arguments for "drover routes [APP]": a b\n');
});
