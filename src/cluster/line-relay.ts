/**
 * Whole lines from many processes to one stdout. Each web process writes its JSON lines to a pipe
 * of its own; the supervisor reads them and is the only writer of the shared stdout, writing only
 * whole lines. Processes writing straight to a shared pipe are atomic only up to PIPE_BUF (4 KiB):
 * a longer line (a stack trace, a large log field) could tear, or interleave with another's, and
 * a supervisor writing long lines beside them would have the same problem.
 */
import type { Readable } from 'node:stream';
import { pino, type DestinationStream } from 'pino';

const NEWLINE = 0x0a;

/**
 * Whole lines bound for one file descriptor, written once per turn of the event loop (one write
 * for every line that arrived in the turn, from every process), synchronously (pino's SonicBoom,
 * which also retries a pipe that is full), as bytes: nothing is decoded on the way.
 */
export class LineWriter {
  readonly #out: DestinationStream;
  #pending: Buffer[] = [];

  constructor(fd: 1 | 2) {
    // contentMode is SonicBoom's (pino.destination passes its options on); pino's types omit it.
    this.#out = pino.destination({ dest: fd, sync: true, contentMode: 'buffer' } as Parameters<typeof pino.destination>[0]);
  }

  /** Queues whole lines (ending with a newline) for this turn's write. */
  add(lines: Buffer): void {
    this.#pending.push(lines);
    if (this.#pending.length === 1) setImmediate(this.flush);
  }

  /** Writes what is queued now (also before the supervisor exits). */
  readonly flush = (): void => {
    if (this.#pending.length === 0) return;
    const lines = this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending);
    this.#pending = [];
    (this.#out.write as unknown as (data: Buffer) => void)(lines);
  };
}

/** Where relayLines() puts whole lines: a LineWriter. */
export interface LineSink {
  add(lines: Buffer): void;
}

/**
 * Copies `from` to `to` in whole lines: what follows a chunk's last newline waits for the rest of
 * its line. Resolves once `from` has ended (the process closed its end).
 *
 * A last line without a newline when `from` ends was cut (a `kill -9` in the middle of a write)
 * or never finished. With `onCutLine`, it is dropped and its size reported, so a stream of JSON
 * lines stays one whole JSON value a line; without, it is written with a newline (stderr, where a
 * crash's last words matter more than the shape of the line).
 *
 * @example
 * const stdout = new LineWriter(1);
 * relayLines(child.stdout, stdout, (bytes) => log.warn({ bytes }, 'a cut line was dropped'));
 */
export function relayLines(from: Readable, to: LineSink, onCutLine?: (bytes: number) => void): Promise<void> {
  let partial: Buffer[] = [];
  from.on('data', (chunk: Buffer) => {
    const end = chunk.lastIndexOf(NEWLINE);
    if (end === -1) {
      partial.push(chunk);
      return;
    }
    to.add(partial.length > 0 ? Buffer.concat([...partial, chunk.subarray(0, end + 1)]) : chunk.subarray(0, end + 1));
    partial = end + 1 < chunk.length ? [chunk.subarray(end + 1)] : [];
  });
  return new Promise((resolve) => {
    from.on('close', () => {
      const bytes = partial.reduce((sum, chunk) => sum + chunk.length, 0);
      if (bytes > 0 && onCutLine) onCutLine(bytes);
      else if (bytes > 0) to.add(Buffer.concat([...partial, Buffer.from('\n')]));
      partial = [];
      resolve();
    });
  });
}
