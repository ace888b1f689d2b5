/**
 * Whole lines from many processes to one stdout. Each web process writes its JSON lines to a pipe
 * of its own; the supervisor reads them and writes only whole lines, one writer for the shared
 * stdout. Processes writing straight to a shared pipe are atomic only up to PIPE_BUF (4 KiB):
 * a longer line (a stack trace, a large log field) could tear, or interleave with another's.
 */
import type { Readable } from 'node:stream';
import { pino, type DestinationStream } from 'pino';

const NEWLINE = 0x0a;

/** A synchronous writer to `fd` (pino's own): every write lands whole before the next one starts. */
export function rawDestination(fd: 1 | 2): DestinationStream {
  return pino.destination({ dest: fd, sync: true });
}

/**
 * Copies `from` to `to` in whole lines: what follows a stream's last newline waits for the rest
 * of its line. A last line without a newline is written (with one) when `from` ends.
 *
 * @example
 * relayLines(child.stdout, rawDestination(1));
 */
export function relayLines(from: Readable, to: DestinationStream): void {
  let partial: Buffer[] = [];
  from.on('data', (chunk: Buffer) => {
    const end = chunk.lastIndexOf(NEWLINE);
    if (end === -1) {
      partial.push(chunk);
      return;
    }
    const whole = partial.length > 0 ? Buffer.concat([...partial, chunk.subarray(0, end + 1)]) : chunk.subarray(0, end + 1);
    partial = end + 1 < chunk.length ? [chunk.subarray(end + 1)] : [];
    to.write(whole.toString('utf8'));
  });
  from.on('end', () => {
    if (partial.length > 0) to.write(`${Buffer.concat(partial).toString('utf8')}\n`);
    partial = [];
  });
}
