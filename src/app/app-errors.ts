/**
 * The part of an app error's stack that is about the app: the frames of the user's code, mapped to
 * the TypeScript source when the compiled files have source maps, without Node's internals or
 * drover's own frames, so a boot error points at the line to fix.
 *
 * Frames are mapped here, on the error path, with Node's own `SourceMap` (node:module), rather than
 * by turning on `--enable-source-maps` for the thread: that reads and keeps the map of every module
 * loaded afterwards, which measured about +40 ms of boot and +2 MB of idle memory for the example
 * app, paid by every boot for the sake of the rare one that fails.
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ThreadError } from '../pool/protocol.js';

/** drover's own compiled code and its thread pool's, whose frames say nothing about the app. */
const DROVER_CODE = [
  fileURLToPath(new URL('../', import.meta.url)),
  fileURLToPath(new URL('../../config/', import.meta.url)),
  // The TypeScript sources drover ships: frames land there when source maps are on (--enable-source-maps).
  fileURLToPath(new URL('../../../src/', import.meta.url)),
  fileURLToPath(new URL('../../../config/', import.meta.url)),
  '/node_modules/piscina/',
];

const MAX_FRAMES = 12;

/** A frame's location: `file:///a/b.js:12:5` or `/a/b.js:12:5`. */
const LOCATION = /(file:\/\/\/[^\s)]+?|\/[^\s():]+?):(\d+):(\d+)/;

const maps = new Map<string, { map: SourceMap; dir: string } | null>();

/** The source map of the compiled file `file` (a `sourceMappingURL` comment: a file or a data URL). */
function sourceMapOf(file: string): { map: SourceMap; dir: string } | null {
  if (maps.has(file)) return maps.get(file) ?? null;
  let found: { map: SourceMap; dir: string } | null = null;
  try {
    const code = readFileSync(file, 'utf8');
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(code)?.[1];
    if (url?.startsWith('data:')) {
      const payload = JSON.parse(Buffer.from(url.slice(url.indexOf(',') + 1), 'base64').toString('utf8')) as SourceMapPayload;
      found = { map: new SourceMap(payload), dir: dirname(file) };
    } else if (url !== undefined) {
      const mapFile = resolve(dirname(file), decodeURIComponent(url));
      if (existsSync(mapFile)) found = { map: new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMapPayload), dir: dirname(mapFile) };
    }
  } catch {
    found = null; // no map, or an unreadable one: the frame stays as Node printed it
  }
  maps.set(file, found);
  return found;
}

/** One stack line with its location moved to the original source, when a map says where. */
function mapFrame(line: string): string {
  const match = LOCATION.exec(line);
  if (!match) return line;
  const [location, where, row, column] = match as unknown as [string, string, string, string];
  const file = where.startsWith('file:') ? fileURLToPath(where) : where;
  const found = sourceMapOf(file);
  const entry = found?.map.findEntry(Number(row) - 1, Number(column) - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
  if (!found || entry?.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) return line;
  const source = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : resolve(found.dir, entry.originalSource);
  const shown = where.startsWith('file:') ? pathToFileURL(source).href : source;
  return line.replace(location, `${shown}:${entry.originalLine + 1}:${entry.originalColumn + 1}`);
}

/**
 * The app's frames of `error`'s stack, one per line, mapped to the TypeScript source where the
 * compiled files have source maps; '' when there are none. For a syntax error the source excerpt
 * Node puts before the message (file:line, the line, a caret) is kept.
 *
 * @example
 * appStack(err) // '    at connect (file:///srv/shop/app/db.ts:12:11)\n    at file:///srv/shop/app/index.ts:4:1'
 */
export function appStack(error: unknown): string {
  const stack = typeof (error as Error | null)?.stack === 'string' ? ((error as Error).stack as string) : '';
  if (stack === '') return '';
  const lines = stack.split('\n');
  const name = (error as Error).name || 'Error';
  const headline = lines.findIndex((l) => l.startsWith(`${name}:`) || l === name);
  const excerpt = headline > 0 ? lines.slice(0, headline).filter((l) => l.trim() !== '') : [];
  const frames = lines
    .filter((l) => /^\s+at /.test(l))
    .filter((l) => !/\(node:|at node:/.test(l) && !DROVER_CODE.some((dir) => l.includes(dir)))
    .slice(0, MAX_FRAMES)
    .map(mapFrame);
  return [...excerpt.map((l) => `    ${l}`), ...frames].join('\n');
}

/**
 * An error as plain data that can cross to another thread: its code, message and the app's frames
 * of its stack (an error that already carries `appStack` keeps it).
 *
 * @example
 * parentPort.postMessage({ ok: false, error: threadError(err) });
 */
export function threadError(err: unknown): ThreadError {
  const error = err as Error & { code?: string; appStack?: string };
  return { code: error?.code, message: String(error?.message ?? err), appStack: error?.appStack ?? appStack(error) };
}

/**
 * A ThreadError as an Error again, with its code and the app's stack (`appStack`, which the CLI
 * prints under the message).
 *
 * @example
 * if (!result.ok) throw threadFailure(result.error);
 */
export function threadFailure(error: ThreadError): Error {
  return Object.assign(new Error(error.message), { code: error.code, appStack: error.appStack });
}
