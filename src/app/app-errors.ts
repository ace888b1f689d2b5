/**
 * The part of an app error's stack that is about the app: the frames of the user's code (mapped to
 * the TypeScript source when the app ships source maps, see `enableSourceMaps`), without Node's
 * internals or drover's own frames, so a boot error points at the line to fix.
 */
import { fileURLToPath } from 'node:url';

/** drover's own compiled code, whose frames say nothing about the app. */
const DROVER_CODE = [fileURLToPath(new URL('../', import.meta.url)), fileURLToPath(new URL('../../config/', import.meta.url))];

const MAX_FRAMES = 12;

/**
 * Turns on source-mapped stack traces in this thread (Node's `--enable-source-maps`), before the
 * app is imported: an app compiled with `"sourceMap": true` then reports `.ts` files and lines.
 */
export function enableSourceMaps(): void {
  process.setSourceMapsEnabled(true);
}

/**
 * The app's frames of `error`'s stack, one per line, or '' when there are none. For a syntax error
 * the source excerpt Node puts before the message (file:line, the line, a caret) is kept.
 *
 * @example
 * appStack(err) // '    at connect (file:///srv/shop/app/db.ts:12:11)\n    at file:///srv/shop/app/index.ts:4:1'
 */
export function appStack(error: unknown): string {
  const stack = typeof (error as Error | null)?.stack === 'string' ? (error as Error).stack as string : '';
  if (stack === '') return '';
  const lines = stack.split('\n');
  const name = (error as Error).name || 'Error';
  const headline = lines.findIndex((l) => l.startsWith(`${name}:`) || l === name);
  const excerpt = headline > 0 ? lines.slice(0, headline).filter((l) => l.trim() !== '') : [];
  const frames = lines
    .filter((l) => /^\s+at /.test(l))
    .filter((l) => !l.includes('node:internal') && !DROVER_CODE.some((dir) => l.includes(dir)))
    .slice(0, MAX_FRAMES);
  return [...excerpt.map((l) => `    ${l}`), ...frames].join('\n');
}
