/**
 * Reverse URLs (Django's `reverse()`): build a path from a route's name and its parameters.
 */
import { ReverseParamInvalid, ReverseUnknownName } from '../errors.js';
import { compilePattern, converters, type CompiledPattern, type Converter, type Route } from '../router.js';

/**
 * The thread's table lives on a global symbol, not in this module: an app that resolves another
 * copy of drover (a global CLI, a linked or nested install) calls that copy's reverse(), which
 * must read the table the running drover loaded.
 */
const TABLE = Symbol.for('drover.reverseTable');
const table = (): Map<string, CompiledPattern> =>
  ((globalThis as Record<symbol, unknown>)[TABLE] as Map<string, CompiledPattern> | undefined) ?? new Map();

/** Makes `routes` the table reverse() reads. drover calls it when a thread has loaded the app. */
export function setReverseTable(routes: readonly Route[]): void {
  const named = new Map<string, CompiledPattern>();
  for (const r of routes) if (r.options.name !== undefined) named.set(r.options.name, compilePattern(r.pattern));
  (globalThis as Record<symbol, unknown>)[TABLE] = named;
}

/**
 * Builds the path of the route named `name`, formatting each parameter with its converter.
 * An unknown name, or a missing, extra or ill-typed parameter, is a coded error naming the route.
 *
 * @example
 * reverse('item', { id: 7 }) // '/items/7'
 */
export function reverse(name: string, params: Readonly<Record<string, string | number>> = {}): string {
  const named = table();
  const compiled = named.get(name);
  if (!compiled) throw new ReverseUnknownName(name, [...named.keys()].map((n) => `"${n}"`).join(', ') || 'none');
  const expected = new Set(compiled.params.map((p) => p.name));
  const extra = Object.keys(params).filter((k) => !expected.has(k));
  if (extra.length > 0) throw new ReverseParamInvalid(name, compiled.pattern, `unexpected parameter(s) ${extra.join(', ')}`);
  let path = '';
  for (const part of compiled.parts) {
    if (typeof part === 'string') {
      path += part;
      continue;
    }
    const value = params[part.name];
    if (value === undefined) throw new ReverseParamInvalid(name, compiled.pattern, `missing parameter "${part.name}"`);
    path += formatParam(name, compiled.pattern, part.name, part.converter, value);
  }
  return path;
}

function formatParam(name: string, pattern: string, param: string, converter: keyof typeof converters, value: string | number): string {
  const conv = converters[converter] as Converter;
  if (converter === 'int' && !(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0)) {
    throw new ReverseParamInvalid(name, pattern, `parameter "${param}" must be a non-negative safe integer, got ${JSON.stringify(value)}`);
  }
  const text = conv.format(value as never);
  if (!new RegExp(`^(?:${conv.regex})$`, 's').test(text)) {
    throw new ReverseParamInvalid(name, pattern, `parameter "${param}" does not fit <${converter}:${param}>: ${JSON.stringify(value)}`);
  }
  // Django quotes what it reverses; a path keeps its slashes.
  return converter === 'path' ? text.split('/').map(encodeURIComponent).join('/') : encodeURIComponent(text);
}
