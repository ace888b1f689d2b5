/**
 * drover's public API: what an app imports as `drover`.
 *
 * @example
 * import { get, post, json } from 'drover';
 * export default [
 *   get('/hello', () => ({ hello: 'world' })),
 *   post('/echo', (req) => json({ received: req.json() }, { status: 201 })),
 * ];
 */
export { route, get, post, put, patch, del, converters, METHODS } from './router.js';
export type { Method, Route, RouteOptions, ParamsOf, Converter, ConverterName } from './router.js';
export { json, text, html, bytes, file, redirect, httpError, HttpError, withHeaders, withCookie, withoutCookie } from './http.js';
export type { Request, View, HttpResponse, ResponseInit, Handler, Middleware, HeaderValue, CookieOptions, FileOptions } from './http.js';
export { stream } from './streaming.js';
export type { StreamSource, StreamChunk, StreamInit } from './streaming.js';
export { sse } from './sse.js';
export type { ServerSentEvent, SseInit } from './sse.js';
export { on } from './events/handlers.js';
export { schedule } from './events/schedules.js';
export type { Schedule, ScheduleOptions } from './events/schedules.js';
export type { PublishOptions } from './events/publish.js';
export type { EventContext, EventHandler, EventHandlerFn, HandlerOptions } from './events/handlers.js';
export { reverse } from './app/reverse.js';
export type { HookContext, Hook, TaskContext } from './app/contexts.js';
export {
  defineSettings,
  renderSettingsTable,
  integer,
  seconds,
  duration,
  boolean,
  oneOf,
  string,
  nonEmpty,
  secret,
  url,
  list,
  counts,
} from './settings.js';
export type { Parser, SettingSpec, SettingsTable, SettingsOf, DeclaredSettings } from './settings.js';
export type { PoolSpec } from './pool/protocol.js';
export type { Form, UploadedFile } from './form.js';
export type { Settings } from '../config/settings.js';
