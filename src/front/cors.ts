/**
 * CORS from settings, in the front thread with the fastify ecosystem's plugin (@fastify/cors):
 * its onRequest hook puts the headers on every answer (errors, 404, 503 from backpressure
 * included) and answers preflights itself, so they never cost a thread hop. Nothing is
 * registered when CORS_ORIGINS is unset: no cost for apps that do not use it.
 */
import type { FastifyCorsOptions } from '@fastify/cors';
import type { Settings } from '../../config/settings.js';
import { SettingInvalid } from '../errors.js';
import { METHODS } from '../router.js';

/**
 * The plugin's options for these settings, or null when CORS is off. `*` with credentials is
 * refused at boot: browsers reject that answer, so the app would fail only in the browser.
 *
 * @example
 * const cors = corsOptions(settings);
 * if (cors) app.register(fastifyCors, cors);
 */
export function corsOptions(settings: Settings): FastifyCorsOptions | null {
  const origins = settings.CORS_ORIGINS;
  if (origins === null) return null;
  const any = origins.length === 1 && origins[0] === '*';
  if (any && settings.CORS_CREDENTIALS) {
    throw new SettingInvalid('CORS_CREDENTIALS', '"true"', 'false while CORS_ORIGINS is * (browsers refuse credentials with a wildcard origin): list the origins instead');
  }
  return {
    origin: any ? '*' : [...origins],
    credentials: settings.CORS_CREDENTIALS,
    methods: [...METHODS],
    ...(settings.CORS_EXPOSED_HEADERS.length > 0 ? { exposedHeaders: [...settings.CORS_EXPOSED_HEADERS] } : {}),
    ...(settings.CORS_MAX_AGE !== null ? { maxAge: settings.CORS_MAX_AGE } : {}),
    // An OPTIONS request without Origin (not a browser preflight) gets the same 204 with the
    // allowed methods, rather than the plugin's plain-text 400.
    strictPreflight: false,
  };
}
