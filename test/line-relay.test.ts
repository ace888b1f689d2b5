// A web process's output on its way to the supervisor's stdout: whole lines only, whatever the
// chunks, and a line cut by the end of the stream is dropped (stdout) or ended (stderr).
import { PassThrough } from 'node:stream';
import t from 'tap';
import { relayLines } from '../dist/src/cluster/line-relay.js';

function sink() {
  const added: string[] = [];
  return { added, add: (lines: Buffer) => added.push(lines.toString()) };
}

t.test('lines split across chunks leave whole; a cut last line is dropped and its size reported', async (t) => {
  const from = new PassThrough();
  const to = sink();
  const cut: number[] = [];
  const done = relayLines(from, to, (bytes) => cut.push(bytes));
  from.write('{"a":1}\n{"b":');
  from.write('2}\n{"c":3}\n{"d":');
  from.end('4');
  await done;
  t.same(to.added, ['{"a":1}\n', '{"b":2}\n{"c":3}\n'], 'each write holds whole lines only');
  t.same(cut, [6], 'the 6 bytes of the cut line are reported, not written');
});

t.test('without a cut-line handler (stderr), a last line without a newline is written with one', async (t) => {
  const from = new PassThrough();
  const to = sink();
  const done = relayLines(from, to);
  from.end('Error: boom\n    at main');
  await done;
  t.same(to.added, ['Error: boom\n', '    at main\n']);
});

t.test('a stream that ends on a newline reports nothing cut', async (t) => {
  const from = new PassThrough();
  const to = sink();
  const cut: number[] = [];
  const done = relayLines(from, to, (bytes) => cut.push(bytes));
  from.end('{"a":1}\n');
  await done;
  t.same(to.added, ['{"a":1}\n']);
  t.same(cut, []);
});
