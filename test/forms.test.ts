// req.form(): url-encoded and multipart bodies parsed by busboy in the worker, through curl as a
// browser would send them; limits are a 413 naming the limit, a malformed body a 400.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { fixture, startDrover } from './helpers/server.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'drover-forms-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'notes.txt'), 'hello upload');
writeFileSync(join(dir, 'big.bin'), Buffer.alloc(3000, 1));

const server = await startDrover({ app: fixture('forms.js'), env: { WEB_CONCURRENCY: '1', FORM_MAX_FILE_SIZE: '2000', FORM_MAX_FILES: '2', FORM_MAX_FIELDS: '3' } });
t.teardown(() => server.stop());

/** curl's answer: status and parsed JSON body. */
async function curl(args: string[]): Promise<{ status: number; body: Record<string, unknown> }> {
  const { stdout } = await run('curl', ['-s', '-w', '\n%{http_code}', ...args, `${server.url}/form`]);
  const at = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(at + 1)), body: JSON.parse(stdout.slice(0, at)) as Record<string, unknown> };
}

t.test('url-encoded fields; a repeated name gives an array', async (t) => {
  const res = await curl(['--data', 'name=Ada&tag=a&tag=b']);
  t.equal(res.status, 200);
  t.same(res.body, { fields: { name: 'Ada', tag: ['a', 'b'] }, files: [] });
});

t.test('multipart fields and a file (curl -F)', async (t) => {
  const res = await curl(['-F', 'title=Notes', '-F', `doc=@${join(dir, 'notes.txt')};type=text/plain`]);
  t.equal(res.status, 200);
  t.same(res.body, { fields: { title: 'Notes' }, files: [{ field: 'doc', filename: 'notes.txt', type: 'text/plain', size: 12, text: 'hello upload' }] });
});

for (const [what, args, message] of [
  ['a file over FORM_MAX_FILE_SIZE', ['-F', `doc=@${join(dir, 'big.bin')}`], /larger than FORM_MAX_FILE_SIZE \(2000 bytes\)/],
  ['more files than FORM_MAX_FILES', ['-F', `a=@${join(dir, 'notes.txt')}`, '-F', `b=@${join(dir, 'notes.txt')}`, '-F', `c=@${join(dir, 'notes.txt')}`], /more than FORM_MAX_FILES \(2\) files/],
  ['more fields than FORM_MAX_FIELDS', ['--data', 'a=1&b=2&c=3&d=4'], /more than FORM_MAX_FIELDS \(3\) fields/],
] as const) {
  t.test(`${what}: 413 naming the limit`, async (t) => {
    const res = await curl([...args]);
    t.equal(res.status, 413);
    t.match(res.body, { status: 413, error: message });
  });
}

t.test('a malformed multipart body is a 400; another content type a 415', async (t) => {
  const bad = await curl(['-H', 'content-type: multipart/form-data; boundary=xyz', '--data-binary', '--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\nunterminated']);
  t.equal(bad.status, 400);
  t.match(bad.body, { error: /malformed form/ });
  const json = await curl(['-H', 'content-type: application/json', '--data', '{"a":1}']);
  t.equal(json.status, 415);
  t.match(json.body, { error: /send application\/x-www-form-urlencoded or multipart\/form-data/ });
});
