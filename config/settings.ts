/**
 * Every drover setting, declared once: environment variable, parser, default, description.
 *
 * This table validates the environment at boot, is printed by `drover check`, and generates the
 * README's configuration table (`npm run docs`; a test fails when the README is stale).
 */
import { availableParallelism } from 'node:os';
import { boolean, defineSettings, integer, nonEmpty, oneOf, type SettingSpec } from '../src/settings.js';

export const settingsTable = defineSettings({
  PORT: {
    parser: integer(0, 65535),
    default: 8000,
    description: 'TCP port the web server listens on (0 picks a free port, logged at boot).',
  },
  HOST: {
    parser: nonEmpty('a host name or IP address'),
    default: '0.0.0.0',
    description: 'Address the web server binds to.',
  },
  WEB_CONCURRENCY: {
    parser: integer(1, 1024),
    default: () => availableParallelism(),
    defaultText: 'number of available cores',
    description: 'Worker threads that run views (gunicorn\'s workers).',
  },
  LOG_LEVEL: {
    parser: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    description: 'Lowest level written to stdout, for the front and the workers alike.',
  },
  DEBUG: {
    parser: boolean(),
    default: false,
    description: 'Development mode: 500 responses carry the error and its stack. Never in production.',
  },
  METRICS_PORT: {
    parser: integer(0, 65535),
    default: null,
    description: 'When set, `/metrics` is served on this port only (not on `PORT`), e.g. to keep it private.',
  } satisfies SettingSpec<number | null>,
  APP_MODULE: {
    parser: nonEmpty('a path to a built JS module'),
    default: null,
    defaultText: 'the example app',
    description: 'The app module to serve when `drover serve` is given no path.',
  } satisfies SettingSpec<string | null>,
});

/** drover's frozen settings, as read at boot and handed to every worker. */
export type Settings = {
  readonly [K in keyof typeof settingsTable]: (typeof settingsTable)[K] extends SettingSpec<infer T> ? T : never;
};
