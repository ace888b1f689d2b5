/**
 * Settings: parsers, the loader, and the README table renderer. The table itself lives in
 * `config/settings.ts`; this module is the only place in drover that reads `process.env`.
 */
import dotenv from 'dotenv';
import { SettingInvalid } from './errors.js';

/** Parses one environment value; throws when the value is unusable. */
export interface Parser<T> {
  /** What a valid value looks like, for the error message and the README. */
  readonly expected: string;
  parse(raw: string): T;
}

/** One declared setting (gunicorn's `config.py` shape): parser, default, description. */
export interface SettingSpec<T> {
  readonly parser: Parser<T>;
  /** The value when the variable is unset or empty; a function is evaluated at load time. */
  readonly default: T | (() => T);
  /** How the README shows the default, when the value alone would mislead (e.g. "number of cores"). */
  readonly defaultText?: string;
  readonly description: string;
  /** Masked wherever settings are printed. */
  readonly secret?: boolean;
}

type AnySpec = SettingSpec<unknown>;

/** The frozen values of a settings table. */
export type SettingsOf<S extends Record<string, AnySpec>> = {
  readonly [K in keyof S]: S[K] extends SettingSpec<infer T> ? T : never;
};

/**
 * Declares a settings table, keeping each setting's value type.
 *
 * @example
 * const table = defineSettings({
 *   PORT: { parser: integer(0, 65535), default: 8000, description: 'Port to listen on.' },
 * });
 */
export function defineSettings<S extends Record<string, AnySpec>>(table: S): S {
  return Object.freeze(table);
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
      const v = raw.trim().toLowerCase();
      if (!(choices as readonly string[]).includes(v)) throw new Error('not a choice');
      return v as T;
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
 * Reads, parses and freezes every setting of `table` from `env`. Throws `DROVER_ERR_SETTINGS_INVALID`
 * naming the first bad variable, its value and what is expected.
 *
 * @example
 * const settings = loadSettings(table, { PORT: '9000' });
 */
export function loadSettings<S extends Record<string, AnySpec>>(
  table: S,
  env: Readonly<Record<string, string | undefined>> = process.env,
): SettingsOf<S> {
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(table)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      values[name] = typeof spec.default === 'function' ? (spec.default as () => unknown)() : spec.default;
      continue;
    }
    try {
      values[name] = spec.parser.parse(raw);
    } catch {
      throw new SettingInvalid(name, JSON.stringify(raw), spec.parser.expected);
    }
  }
  return Object.freeze(values) as SettingsOf<S>;
}

/**
 * The effective settings as `NAME=value` lines, secrets masked (for `drover check`).
 *
 * @example
 * describeSettings(table, settings) // ['PORT=8000', 'METRICS_TOKEN=****', …]
 */
export function describeSettings(table: Record<string, AnySpec>, values: Readonly<Record<string, unknown>>): string[] {
  return Object.entries(table).map(([name, spec]) => {
    const value = values[name];
    const shown =
      value === null || value === undefined ? '(unset)' : spec.secret ? '****' : typeof value === 'object' ? JSON.stringify(value) : String(value);
    return `${name}=${shown}`;
  });
}

/** Renders the settings table as the README's Markdown table. */
export function renderSettingsTable(table: Record<string, AnySpec>): string {
  const rows = Object.entries(table).map(([name, spec]) => {
    const def =
      spec.defaultText ??
      (spec.default === null ? 'unset' : `\`${typeof spec.default === 'object' ? JSON.stringify(spec.default) : String(spec.default as string | number | boolean)}\``);
    const secret = spec.secret ? ' Secret: masked wherever settings are printed.' : '';
    return `| \`${name}\` | ${def} | ${spec.parser.expected} | ${spec.description}${secret} |`;
  });
  return ['| Variable | Default | Accepts | Description |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
