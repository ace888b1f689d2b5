/**
 * URL patterns with Django's converters, declared as data and matched by fastify's own router.
 *
 * A pattern such as `/items/<int:id>` compiles once into a find-my-way URL (`/items/:id(^[0-9]+$)`)
 * plus the list of converters to run on the captured values. fastify does the matching; drover then
 * parses each value, and a value that fails to parse (an int beyond the safe integer range, an
 * upper-case uuid) means "this route does not match", exactly as a failed `to_python()` does in
 * Django.
 */
import {
  RouteConverterUnknown,
  RouteMethodInvalid,
  RouteOptionInvalid,
  RoutePatternInvalid,
  RouteViewInvalid,
} from './errors.js';
import type { View } from './http.js';

/** The HTTP methods a route may declare. */
export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type Method = (typeof METHODS)[number];

/** A path converter, as in Django's `converters.py`: a regex for one value, its parser and formatter. */
export interface Converter<T extends string | number = string | number> {
  /** Regex (no anchors) a raw value must match. */
  readonly regex: string;
  /** Turns the matched text into the value views see; throwing means "no match". */
  parse(raw: string): T;
  /** Turns a value back into path text (for reverse URLs). */
  format(value: T): string;
}

const identity = (raw: string): string => raw;

/** Django's built-in converters, with Django's meanings. */
export const converters = {
  int: {
    regex: '[0-9]+',
    parse(raw: string): number {
      const value = Number(raw);
      // Beyond 2^53 a JS number silently loses digits: refuse the match instead of lying.
      if (!Number.isSafeInteger(value)) throw new RangeError(`${raw} is beyond the safe integer range`);
      return value;
    },
    format: (value: number): string => String(value),
  },
  str: { regex: '[^/]+', parse: identity, format: identity },
  slug: { regex: '[-a-zA-Z0-9_]+', parse: identity, format: identity },
  uuid: {
    regex: '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}',
    parse: identity,
    format: identity,
  },
  path: { regex: '.+', parse: identity, format: identity },
} as const satisfies Record<string, Converter<string> | Converter<number>>;

export type ConverterName = keyof typeof converters;

type ConverterValue<C extends string> = C extends 'int' ? number : string;

/**
 * The typed `params` of a pattern literal: `ParamsOf<'/items/<int:id>'>` is `{ id: number }`.
 */
export type ParamsOf<P extends string> = string extends P
  ? Record<string, string | number>
  : P extends `${string}<${infer C}:${infer N}>${infer Rest}`
    ? { [K in N]: ConverterValue<C> } & ParamsOf<Rest>
    : Record<never, never>;

/** Per-route options. */
export interface RouteOptions {
  /** Name for reverse URLs and logs, like Django's `name=`. */
  readonly name?: string;
  /** Deadline in seconds for this route, instead of REQUEST_TIMEOUT (e.g. a slow report). */
  readonly timeout?: number;
  /** The worker pool that runs this route (declared in the app's `pools` export); `default` otherwise. */
  readonly pool?: string;
}

/** Pool names: short identifiers, safe as metric label values. */
export const POOL_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/** One entry of an app's route table. */
export interface Route {
  readonly methods: readonly Method[];
  readonly pattern: string;
  readonly view: View<never>;
  readonly options: Readonly<RouteOptions>;
}

/** A piece of a compiled pattern: literal text, or a converted parameter. */
export type PatternPart = string | { readonly name: string; readonly converter: ConverterName };

/** A pattern compiled for fastify's router. */
export interface CompiledPattern {
  readonly pattern: string;
  /** The URL handed to fastify (find-my-way syntax). */
  readonly routerUrl: string;
  readonly parts: readonly PatternPart[];
  /** Parameter names in order, with the key fastify stores each under (`*` for a trailing path). */
  readonly params: readonly { readonly name: string; readonly key: string; readonly converter: ConverterName }[];
}

const PARAM = /<([^<>:]*):([^<>]*)>/g;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Compiles a Django-style pattern. Throws a coded error naming the pattern when it is malformed.
 *
 * @example
 * compilePattern('/items/<int:id>').routerUrl // '/items/:id(^[0-9]+$)'
 */
export function compilePattern(pattern: string): CompiledPattern {
  if (typeof pattern !== 'string' || !pattern.startsWith('/')) {
    throw new RoutePatternInvalid(String(pattern), 'it must be a string starting with "/"');
  }
  const parts: PatternPart[] = [];
  const params: { name: string; key: string; converter: ConverterName }[] = [];
  let routerUrl = '';
  let last = 0;
  for (const match of pattern.matchAll(PARAM)) {
    const literal = pattern.slice(last, match.index);
    routerUrl += literalForRouter(pattern, literal);
    if (literal) parts.push(literal);
    const [whole, converter = '', name = ''] = match;
    if (!Object.hasOwn(converters, converter)) {
      throw new RouteConverterUnknown(pattern, converter, Object.keys(converters).join(', '));
    }
    if (!IDENTIFIER.test(name)) {
      throw new RoutePatternInvalid(pattern, `parameter name "${name}" must be an identifier`);
    }
    if (params.some((p) => p.name === name)) {
      throw new RoutePatternInvalid(pattern, `parameter "${name}" appears twice`);
    }
    const conv = converter as ConverterName;
    last = match.index + whole.length;
    if (conv === 'path') {
      // find-my-way parameters never span "/", so a path converter maps onto its trailing wildcard.
      if (last !== pattern.length || !routerUrl.endsWith('/')) {
        throw new RoutePatternInvalid(pattern, `<path:${name}> must be the last thing in the pattern, right after a "/"`);
      }
      routerUrl += '*';
      params.push({ name, key: '*', converter: conv });
    } else {
      routerUrl += conv === 'str' ? `:${name}` : `:${name}(^${converters[conv].regex}$)`;
      params.push({ name, key: name, converter: conv });
    }
    parts.push({ name, converter: conv });
  }
  const tail = pattern.slice(last);
  if (/[<>]/.test(tail)) throw new RoutePatternInvalid(pattern, 'an unclosed "<" or stray ">"; write parameters as <converter:name>');
  routerUrl += literalForRouter(pattern, tail);
  if (tail) parts.push(tail);
  return Object.freeze({ pattern, routerUrl, parts: Object.freeze(parts), params: Object.freeze(params) });
}

function literalForRouter(pattern: string, literal: string): string {
  if (/[<>*()?#]/.test(literal)) {
    throw new RoutePatternInvalid(pattern, `the literal text "${literal}" may not contain < > * ( ) ? #`);
  }
  // find-my-way reads ":" as the start of a parameter; "::" is its escape for a literal colon.
  return literal.replaceAll(':', '::');
}

/**
 * Converts the raw values fastify captured. Returns `undefined` when a converter refuses a value,
 * which the caller answers as "no route matched" (404).
 */
export function convertParams(
  compiled: CompiledPattern,
  raw: Record<string, string | undefined>,
): Record<string, string | number> | undefined {
  const out: Record<string, string | number> = {};
  for (const { name, key, converter } of compiled.params) {
    const value = raw[key];
    const conv: Converter = converters[converter];
    // fastify hands over decoded values; Django matches decoded paths too, so "%2F" is a "/" here.
    if (value === undefined || !fullMatch(conv.regex).test(value)) return undefined;
    try {
      out[name] = conv.parse(value);
    } catch {
      return undefined;
    }
  }
  return out;
}

const anchored = new Map<string, RegExp>();
function fullMatch(regex: string): RegExp {
  let re = anchored.get(regex);
  if (!re) anchored.set(regex, (re = new RegExp(`^(?:${regex})$`, 's')));
  return re;
}

/**
 * Declares a route: the methods it answers, its Django-style pattern, and its view.
 *
 * @example
 * import { route } from 'drover';
 * export default [
 *   route(['GET', 'POST'], '/items/<int:id>', (req) => ({ id: req.params.id }), { name: 'item' }),
 * ];
 */
export function route<P extends string>(
  methods: Method | readonly Method[],
  pattern: P,
  view: View<ParamsOf<P>>,
  options: RouteOptions = {},
): Route {
  const list = (Array.isArray(methods) ? methods : [methods]) as readonly string[];
  const upper = list.map((m) => (typeof m === 'string' ? m.toUpperCase() : String(m)));
  if (upper.length === 0 || upper.some((m) => !(METHODS as readonly string[]).includes(m))) {
    throw new RouteMethodInvalid(pattern, JSON.stringify(list), METHODS.join(', '));
  }
  compilePattern(pattern); // fail at declaration, naming the pattern, not at the first request
  if (typeof view !== 'function') throw new RouteViewInvalid(pattern);
  if (options.timeout !== undefined && !(typeof options.timeout === 'number' && options.timeout > 0 && Number.isFinite(options.timeout))) {
    throw new RouteOptionInvalid(pattern, `timeout=${JSON.stringify(options.timeout)}; expected a positive number of seconds`);
  }
  if (options.pool !== undefined && !(typeof options.pool === 'string' && POOL_NAME.test(options.pool))) {
    throw new RouteOptionInvalid(pattern, `pool=${JSON.stringify(options.pool)}; expected a pool name like "heavy" (a-z, 0-9, _ and -)`);
  }
  return Object.freeze({
    methods: Object.freeze([...new Set(upper)]) as readonly Method[],
    pattern,
    view: view as View<never>,
    options: Object.freeze({ ...options }),
  });
}

/**
 * Declares a GET route (HEAD is answered by it too, as in Django and fastify).
 *
 * @example
 * get('/hello', () => ({ hello: 'world' }))
 */
export function get<P extends string>(pattern: P, view: View<ParamsOf<P>>, options?: RouteOptions): Route {
  return route('GET', pattern, view, options);
}

/**
 * Declares a POST route.
 *
 * @example
 * post('/echo', (req) => ({ received: req.json() }))
 */
export function post<P extends string>(pattern: P, view: View<ParamsOf<P>>, options?: RouteOptions): Route {
  return route('POST', pattern, view, options);
}

/**
 * Declares a PUT route.
 *
 * @example
 * put('/items/<int:id>', (req) => ({ id: req.params.id, saved: true }))
 */
export function put<P extends string>(pattern: P, view: View<ParamsOf<P>>, options?: RouteOptions): Route {
  return route('PUT', pattern, view, options);
}

/**
 * Declares a PATCH route.
 *
 * @example
 * patch('/items/<int:id>', (req) => ({ id: req.params.id, patched: req.json() }))
 */
export function patch<P extends string>(pattern: P, view: View<ParamsOf<P>>, options?: RouteOptions): Route {
  return route('PATCH', pattern, view, options);
}

/**
 * Declares a DELETE route (`delete` is a reserved word, hence `del`).
 *
 * @example
 * del('/items/<int:id>', () => json(null, { status: 204 }))
 */
export function del<P extends string>(pattern: P, view: View<ParamsOf<P>>, options?: RouteOptions): Route {
  return route('DELETE', pattern, view, options);
}

/** True when `value` is a route made by route()/get()/…, checked structurally so copies of drover interoperate. */
export function isRoute(value: unknown): value is Route {
  const r = value as Route | null;
  return (
    typeof r === 'object' && r !== null && Array.isArray(r.methods) && typeof r.pattern === 'string' &&
    typeof r.view === 'function' && typeof r.options === 'object'
  );
}
