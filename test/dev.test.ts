// Development mode: `serve --reload` replaces the workers when the app's files change, and
// LOG_FORMAT=pretty prints human-readable lines.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import t from 'tap';
import { ROOT, spawnDrover } from './helpers/server.js';

// Inside the package, so the app resolves `drover` by self-reference like the example app.
const dir = mkdtempSync(join(ROOT, 'test', '.tmp-dev-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const app = join(dir, 'app.js');
const version = (v: string) => `import { get } from 'drover';\nexport default [get('/v', () => ({ v: '${v}' }))];\n`;
writeFileSync(app, version('one'));

t.test('files changing next to the app reload the workers; logs are pretty', async (t) => {
  const child = spawnDrover(['serve', '--reload', app], { LOG_FORMAT: 'pretty', WEB_CONCURRENCY: '1' });
  const lines: string[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = async (re: RegExp) => {
    const end = Date.now() + 15_000;
    while (!lines.some((l) => re.test(l))) {
      if (Date.now() > end) throw new Error(`no line matching ${re}:\n${lines.join('\n')}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
    return lines.find((l) => re.test(l)) as string;
  };
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });

  const listening = await waitFor(/listening/);
  t.match(listening, /INFO.*listening/, 'a pretty line, not JSON');
  t.throws(() => JSON.parse(listening));
  const url = /url: "(http:\/\/[^"]+)"/.exec(await waitFor(/^\s+url: "http/))?.[1];
  t.ok(url, 'the URL is in the pretty output');
  t.same(await (await fetch(`${url}/v`)).json(), { v: 'one' });

  writeFileSync(app, version('two'));
  await waitFor(/workers reloaded/);
  t.same(await (await fetch(`${url}/v`)).json(), { v: 'two' });

  t.equal(lines.filter((l) => /workers reloaded|reload/.test(l) && !/^\s/.test(l)).length, 1, 'one reload, one line');

  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number];
  t.equal(code, 0);
});
