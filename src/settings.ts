/**
 * Settings: parsers, the loader, and the README table renderer. The table itself lives in
 * `config/settings.ts`; this module is the only place in drover that reads `process.env`.
 */
import proxyAddr from '@fastify/proxy-addr';
import dotenv from 'dotenv';
import { SettingInvalid, SettingMissing } from './errors.js';

/** Parses one environment value; throws when the value is unusable. */
export interface Parser<T> {
  /** What a valid value looks like, for the error message and the README. */
  readonly expected: string;
  /** Values of this parser are secrets: masked wherever settings are printed (see `secret()`). */
  readonly secret?: boolean;
  parse(raw: string): T;
}

/** One declared setting (gunicorn's `config.py` shape): parser, default, description. */
export interface SettingSpec<T> {
  readonly parser: Parser<T>;
  /**
   * The value when the variable is unset or empty; a function is evaluated at load time. Leave it
   * out to make the setting required: boot stops when it is missing.
   */
  readonly default?: T | null | (() => T);
  /** How the README shows the default, when the value alone would mislead (e.g. "number of cores"). */
  readonly defaultText?: string;
  readonly description: string;
  /** Masked wherever settings are printed. */
  readonly secret?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnySpec = SettingSpec<any>;

/** A table of declared settings, by environment variable name. */
export type SettingsTable = Record<string, AnySpec>;

/** The value type of one declared setting: its parser's type, or null when the default is null. */
export type SettingValue<Spec> = Spec extends { parser: Parser<infer T> }
  ? Spec extends { default: null }
    ? T | null
    : Spec extends { default: (() => infer R) }
      ? T | R
      : T
  : never;

/** The frozen values of a settings table. */
export type SettingsOf<S extends SettingsTable> = {
  readonly [K in keyof S]: SettingValue<S[K]>;
};

const TABLE = Symbol.for('drover.settingsTable');
const ENVIRONMENT = Symbol.for('drover.environment');

/**
 * What defineSettings() returns: the settings' values, read from the environment on first use,
 * and (under a symbol) the table that declared them, for drover to validate, print and document.
 */
export type DeclaredSettings<S extends SettingsTable> = SettingsOf<S> & { readonly [TABLE]: S };

/** The table type behind a defineSettings() result. */
export type TableOf<D> = D extends DeclaredSettings<infer S> ? S : never;

/** True when `value` was made by defineSettings() (of any copy of drover). */
export function isDeclaredSettings(value: unknown): value is DeclaredSettings<SettingsTable> {
  return typeof value === 'object' && value !== null && typeof (value as Record<symbol, unknown>)[TABLE] === 'object';
}

/** The table behind a defineSettings() result (or the table itself). */
export function tableOf<S extends SettingsTable>(settings: DeclaredSettings<S> | S): S {
  return (isDeclaredSettings(settings) ? settings[TABLE] : settings) as S;
}

/**
 * Makes `env` the environment that defineSettings() values are read from in this thread. drover
 * calls it in each worker thread with the snapshot the front read at boot, so every thread sees the
 * same values, and nothing but the front reads `process.env`. A global symbol, so that an app that
 * resolves its own copy of drover reads the same snapshot.
 */
export function setSettingsEnvironment(env: Readonly<Record<string, string | undefined>>): void {
  (globalThis as Record<symbol, unknown>)[ENVIRONMENT] = env;
}

/** The environment defineSettings() values are read from in this thread (see setSettingsEnvironment). */
export function settingsEnvironment(): Readonly<Record<string, string | undefined>> {
  return ((globalThis as Record<symbol, unknown>)[ENVIRONMENT] as Record<string, string | undefined> | undefined) ?? process.env;
}

/**
 * Declares settings, once: each one's environment variable, parser, default and description
 * (gunicorn's `config.py`). drover declares its own this way, and so does an app: export the result
 * as `settings` from the app module, and drover validates it at boot (a bad value stops boot naming
 * the variable), shows it in `drover check` (secrets masked) and can render its README table.
 * Reading a property gives the typed value, parsed from the environment (and `.env`) on first use.
 *
 * @example
 * export const settings = defineSettings({
 *   DATABASE_URL: { parser: url(), description: 'PostgreSQL connection string.', secret: true },
 *   PAGE_SIZE: { parser: integer(1, 500), default: 50, description: 'Items per page.' },
 * });
 * settings.PAGE_SIZE // 50, a number
 */
export function defineSettings<S extends SettingsTable>(table: S): DeclaredSettings<S> {
  const frozen = Object.freeze({ ...table });
  let values: Readonly<Record<string, unknown>> | undefined;
  const declared = {} as Record<string | symbol, unknown>;
  Object.defineProperty(declared, TABLE, { value: frozen });
  for (const name of Object.keys(frozen)) {
    Object.defineProperty(declared, name, {
      enumerable: true,
      get: () => (values ??= loadSettings(frozen, settingsEnvironment()))[name],
    });
  }
  return Object.freeze(declared) as DeclaredSettings<S>;
}

/**
 * An integer parser with inclusive bounds.
 *
 * @example
 * integer(1, 1024).parse('4') // 4
 */
export function integer(min: number, max: number): Parser<number> {
  return {
    expected: `an integer from ${min} to ${max}`,
    parse(raw) {
      if (!/^[+-]?\d+$/.test(raw.trim())) throw new Error('not an integer');
      const value = Number(raw);
      if (value < min || value > max) throw new Error('out of range');
      return value;
    },
  };
}

/**
 * A parser for seconds, decimals allowed, with inclusive bounds.
 *
 * @example
 * seconds(0.001, 3600).parse('2.5') // 2.5
 */
export function seconds(min: number, max: number): Parser<number> {
  return {
    expected: `a number of seconds from ${min} to ${max}`,
    parse(raw) {
      if (!/^\s*\d+(\.\d+)?\s*$/.test(raw)) throw new Error('not a number of seconds');
      const value = Number(raw);
      if (value < min || value > max) throw new Error('out of range');
      return value;
    },
  };
}

/**
 * A boolean parser: true/false, 1/0, yes/no, on/off (any case).
 *
 * @example
 * boolean().parse('yes') // true
 */
export function boolean(): Parser<boolean> {
  return {
    expected: 'one of true, false, 1, 0, yes, no, on, off',
    parse(raw) {
      const v = raw.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(v)) return true;
      if (['false', '0', 'no', 'off'].includes(v)) return false;
      throw new Error('not a boolean');
    },
  };
}

/**
 * A parser accepting one of a fixed list of words.
 *
 * @example
 * oneOf(['info', 'debug']).parse('debug') // 'debug'
 */
export function oneOf<T extends string>(choices: readonly T[]): Parser<T> {
  return {
    expected: `one of ${choices.join(', ')}`,
    parse(raw) {
      // Any case matches; the value is the choice as declared.
      const v = raw.trim().toLowerCase();
      const choice = choices.find((c) => c.toLowerCase() === v);
      if (choice === undefined) throw new Error('not a choice');
      return choice;
    },
  };
}

/**
 * A non-empty string parser.
 *
 * @example
 * nonEmpty('a host name or address').parse('127.0.0.1')
 */
export function nonEmpty(expected: string): Parser<string> {
  return {
    expected,
    parse(raw) {
      if (raw.trim() === '') throw new Error('empty');
      return raw.trim();
    },
  };
}

/**
 * Any non-empty text, trimmed.
 *
 * @example
 * string().parse(' Hello ') // 'Hello'
 */
export function string(): Parser<string> {
  return nonEmpty('a non-empty text');
}

/**
 * A secret (an API key, a password): any non-empty text, masked wherever settings are printed
 * (`drover check`, boot errors).
 *
 * @example
 * API_KEY: { parser: secret(), description: 'Key of the payments API.' }
 */
export function secret(): Parser<string> {
  return { ...nonEmpty('a non-empty secret'), secret: true };
}

/**
 * An absolute URL, returned as its text; `protocols` limits the schemes (with their colon).
 *
 * @example
 * url(['postgres:', 'postgresql:']).parse('postgres://app@db/app') // 'postgres://app@db/app'
 */
export function url(protocols: readonly string[] = []): Parser<string> {
  const schemes = protocols.map((p) => p.replace(/:?$/, ':'));
  return {
    expected: schemes.length > 0 ? `a URL starting with ${schemes.map((p) => `${p}//`).join(' or ')}` : 'an absolute URL, e.g. https://example.com/path',
    parse(raw) {
      const value = raw.trim();
      const parsed = URL.canParse(value) ? new URL(value) : null;
      if (!parsed || (schemes.length > 0 && !schemes.includes(parsed.protocol))) throw new Error('not a URL');
      return value;
    },
  };
}

/**
 * A comma-separated list, each item parsed by `item` (text by default); empty items are dropped.
 *
 * @example
 * list(integer(1, 65535)).parse('80, 443') // [80, 443]
 */
export function list<T = string>(item: Parser<T> = string() as unknown as Parser<T>): Parser<readonly T[]> {
  return {
    expected: `a comma-separated list of ${item.expected.replace(/^(a|an) /, '')} items`,
    ...(item.secret ? { secret: true } : {}),
    parse(raw) {
      return Object.freeze(raw.split(',').map((p) => p.trim()).filter(Boolean).map((p) => item.parse(p)));
    },
  };
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * A duration, returned in seconds: a number of seconds, or a number with a unit (`ms`, `s`, `m`,
 * `h`, `d`), within inclusive bounds given in seconds.
 *
 * @example
 * duration(0, 3600).parse('250ms') // 0.25
 * duration(0, 3600).parse('5m')    // 300
 */
export function duration(min: number, max: number): Parser<number> {
  return {
    expected: `a duration from ${min} s to ${max} s: seconds, or a number with a unit (ms, s, m, h, d), e.g. 30s or 5m`,
    parse(raw) {
      const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(raw);
      if (!match) throw new Error('not a duration');
      const value = Number(match[1]) * (UNIT_SECONDS[match[2] ?? 's'] as number);
      if (value < min || value > max) throw new Error('out of range');
      return value;
    },
  };
}

/**
 * Web origins for CORS: `*` (any origin), or a comma-separated list of `scheme://host[:port]`
 * (no path), each kept without a trailing slash.
 *
 * @example
 * origins().parse('https://app.example.com, http://localhost:5173') // ['https://app.example.com', 'http://localhost:5173']
 */
export function origins(): Parser<readonly string[]> {
  return {
    expected: '* or a comma-separated list of origins like https://app.example.com (scheme, host and port; no path)',
    parse(raw) {
      const items = raw.split(',').map((p) => p.trim().replace(/\/$/, '')).filter(Boolean);
      if (items.length === 1 && items[0] === '*') return Object.freeze(['*']);
      if (items.length === 0 || items.some((o) => !/^https?:\/\/[^/\s?#*]+$/i.test(o) || !URL.canParse(o))) throw new Error('not origins');
      return Object.freeze(items);
    },
  };
}

/**
 * Which proxies to believe (fastify's `trustProxy`): `false`/`off` none, `true`/`on` every hop, a
 * number that many hops, or a comma-separated list of addresses and CIDRs (and proxy-addr's names
 * `loopback`, `linklocal`, `uniquelocal`).
 *
 * @example
 * trustProxy().parse('1')                    // 1
 * trustProxy().parse('10.0.0.0/8, loopback') // ['10.0.0.0/8', 'loopback']
 */
export function trustProxy(): Parser<boolean | number | readonly string[]> {
  return {
    expected: 'false, true, a number of hops, or a comma-separated list of addresses/CIDRs (e.g. 10.0.0.0/8,loopback)',
    parse(raw) {
      const v = raw.trim().toLowerCase();
      if (['false', 'off', 'no'].includes(v)) return false;
      if (['true', 'on', 'yes'].includes(v)) return true;
      if (/^\d+$/.test(v)) return Number(v);
      const items = raw.split(',').map((p) => p.trim()).filter(Boolean);
      proxyAddr.compile(items); // throws on an address or CIDR it cannot read
      return Object.freeze(items);
    },
  };
}

/**
 * A URL prefix parser: starts and ends with "/", e.g. `/static/`.
 *
 * @example
 * urlPrefix().parse('/assets/') // '/assets/'
 */
export function urlPrefix(): Parser<string> {
  return {
    expected: 'a URL path starting and ending with "/", e.g. /static/',
    parse(raw) {
      const v = raw.trim();
      if (!/^\/([A-Za-z0-9._~-]+\/)*$/.test(v) || v === '/') throw new Error('not a prefix');
      return v;
    },
  };
}

/**
 * A `name=count,name=count` map parser, e.g. pool sizes.
 *
 * @example
 * counts(1, 1024).parse('heavy=2,reports=1') // { heavy: 2, reports: 1 }
 */
export function counts(min: number, max: number): Parser<Readonly<Record<string, number>>> {
  return {
    expected: `name=count pairs separated by commas, counts from ${min} to ${max}, e.g. heavy=2,reports=1`,
    parse(raw) {
      const out: Record<string, number> = {};
      for (const pair of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
        const match = /^([a-z][a-z0-9_-]*)=(\d+)$/.exec(pair);
        const n = Number(match?.[2]);
        if (!match || n < min || n > max || Object.hasOwn(out, match[1] as string)) throw new Error('bad pair');
        out[match[1] as string] = n;
      }
      return Object.freeze(out);
    },
  };
}

/**
 * Loads `.env` from the working directory into the environment, quietly and without overriding
 * variables that are already set (twelve-factor: the real environment wins).
 */
export function loadDotenv(): void {
  dotenv.config({ quiet: true, override: false });
}

/**
 * The process environment with `overrides` on top, for loadSettings (the one place that reads
 * `process.env`).
 *
 * @example
 * loadSettings(table, environment({ LOG_LEVEL: 'warn' }));
 */
export function environment(overrides: Readonly<Record<string, string>> = {}): Record<string, string | undefined> {
  return { ...process.env, ...overrides };
}

/**
 * Reads, parses and freezes every setting of `table` from `env`. Throws
 * `DROVER_ERR_SETTINGS_INVALID` naming the first bad variable, its value (masked when secret) and
 * what is expected, or `DROVER_ERR_SETTINGS_MISSING` for a required one that is unset.
 *
 * @example
 * const settings = loadSettings(table, { PORT: '9000' });
 */
export function loadSettings<S extends SettingsTable>(
  declared: S | DeclaredSettings<S>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): SettingsOf<S> {
  const table = tableOf(declared);
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(table)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      if (!('default' in spec) || spec.default === undefined) throw new SettingMissing(name, spec.parser.expected);
      values[name] = typeof spec.default === 'function' ? (spec.default as () => unknown)() : spec.default;
      continue;
    }
    try {
      values[name] = spec.parser.parse(raw);
    } catch {
      throw new SettingInvalid(name, isSecret(spec) ? '****' : JSON.stringify(raw), spec.parser.expected);
    }
  }
  return Object.freeze(values) as SettingsOf<S>;
}

function isSecret(spec: AnySpec): boolean {
  return spec.secret === true || spec.parser.secret === true;
}

/**
 * The effective settings as `NAME=value` lines, secrets masked (for `drover check`).
 *
 * @example
 * describeSettings(table, settings) // ['PORT=8000', 'METRICS_TOKEN=****', …]
 */
export function describeSettings(declared: SettingsTable | DeclaredSettings<SettingsTable>, values: Readonly<Record<string, unknown>>): string[] {
  return Object.entries(tableOf(declared)).map(([name, spec]) => {
    const value = values[name];
    const shown =
      value === null || value === undefined ? '(unset)' : isSecret(spec) ? '****' : typeof value === 'object' ? JSON.stringify(value) : String(value);
    return `${name}=${shown}`;
  });
}

/**
 * Renders a settings table as a Markdown table (drover's README, or an app's own).
 *
 * @example
 * import { renderSettingsTable } from 'drover';
 * import { settings } from './dist/app/settings.js';
 * console.log(renderSettingsTable(settings));
 */
export function renderSettingsTable(declared: SettingsTable | DeclaredSettings<SettingsTable>): string {
  const rows = Object.entries(tableOf(declared)).map(([name, spec]) => {
    const def =
      spec.defaultText ??
      (spec.default === undefined
        ? 'required'
        : spec.default === null
          ? 'unset'
          : typeof spec.default === 'function'
            ? 'computed at boot'
            : isSecret(spec)
              ? '(secret)'
              : `\`${typeof spec.default === 'object' ? JSON.stringify(spec.default) : String(spec.default as string | number | boolean)}\``);
    const secret = isSecret(spec) ? ' Secret: masked wherever settings are printed.' : '';
    return `| \`${name}\` | ${def} | ${spec.parser.expected} | ${spec.description}${secret} |`;
  });
  return ['| Variable | Default | Accepts | Description |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
