/**
 * Every error drover raises on its own account, in one registry (as fastify's `lib/errors.js`).
 *
 * Codes read `DROVER_ERR_<AREA>_<PROBLEM>`; messages say what to fix. The constructors come from
 * `@fastify/error`, the same factory fastify uses, so `err.code`, `err.statusCode` and `%s`
 * templating behave as they do for fastify's own errors.
 */
import createError from '@fastify/error';

/** Boot: a setting's value cannot be parsed. (name, value, what is expected) */
export const SettingInvalid = createError(
  'DROVER_ERR_SETTINGS_INVALID',
  'setting %s=%s is invalid: expected %s',
  500,
);

/** Boot: the app module could not be imported or has no route table. (path, reason) */
export const AppImportFailed = createError(
  'DROVER_ERR_APP_IMPORT',
  'cannot load the app module %s: %s',
  500,
);

/** Boot: the app's default export is not a route table. (path, what was found) */
export const AppNotRouteTable = createError(
  'DROVER_ERR_APP_ROUTES',
  'the app module %s must `export default` an array of routes made with get()/post()/route(); found %s',
  500,
);

/** Declaration: a URL pattern is malformed. (pattern, reason) */
export const RoutePatternInvalid = createError(
  'DROVER_ERR_ROUTE_PATTERN',
  'route pattern "%s" is invalid: %s',
  500,
);

/** Declaration: a pattern names a converter that does not exist. (pattern, converter, known) */
export const RouteConverterUnknown = createError(
  'DROVER_ERR_ROUTE_CONVERTER',
  'route pattern "%s" uses the unknown converter "%s"; use one of %s',
  500,
);

/** Declaration: a route's methods are missing or unknown. (pattern, methods, known) */
export const RouteMethodInvalid = createError(
  'DROVER_ERR_ROUTE_METHOD',
  'route "%s" has invalid methods %s; use one or more of %s',
  500,
);

/** Declaration: two routes claim the same pattern and method, or the same name. (what, first, second) */
export const RouteDuplicate = createError(
  'DROVER_ERR_ROUTE_DUPLICATE',
  'duplicate route %s: declared by "%s" and again by "%s"; remove or rename one',
  500,
);

/** Declaration: a route option has a bad value. (pattern, "option=value; expected …") */
export const RouteOptionInvalid = createError('DROVER_ERR_ROUTE_OPTION', 'route "%s" has %s', 500);

/** Declaration: a route's view is not a function. (pattern) */
export const RouteViewInvalid = createError(
  'DROVER_ERR_ROUTE_VIEW',
  'route "%s" needs a view function `(req) => result` as its view',
  500,
);

/** View misuse: the view returned undefined. (view name) */
export const ViewReturnedUndefined = createError(
  'DROVER_ERR_VIEW_UNDEFINED',
  'view `%s` returned undefined; return an object or array (JSON), a string, bytes, or a response from json()/text()/html()/redirect()',
  500,
);

/** View misuse: the view returned something drover cannot send. (view name, type found) */
export const ViewReturnedUnsupported = createError(
  'DROVER_ERR_VIEW_RESULT',
  'view `%s` returned %s; return an object or array (JSON), a string, bytes, or a response from json()/text()/html()/redirect()',
  500,
);

/** Helper misuse: a response helper got an invalid status. (helper, status) */
export const ResponseStatusInvalid = createError(
  'DROVER_ERR_RESPONSE_STATUS',
  '%s() got status %s; use an integer HTTP status from 100 to 599 (redirect: 300 to 399)',
  500,
);

/** CLI misuse. (message) */
export const CliUsage = createError('DROVER_ERR_CLI_USAGE', '%s', 500);

/** Dispatch: a request passed its deadline. 504. (seconds, route) */
export const RequestTimedOut = createError(
  'DROVER_ERR_DISPATCH_TIMEOUT',
  'the request did not finish within its %s s deadline (route %s)',
  504,
);

/** Dispatch: every worker slot is busy and the queue is full. 503. (running, queued) */
export const ServerOverloaded = createError(
  'DROVER_ERR_DISPATCH_OVERLOADED',
  'the server is at capacity (%s requests running, %s queued); retry later',
  503,
);

/** Dispatch: the worker thread running the request stopped. 502. (why) */
export const WorkerStopped = createError(
  'DROVER_ERR_DISPATCH_WORKER_STOPPED',
  'the worker thread running this request stopped (%s); the request was not completed',
  502,
);

/** Dispatch: the server is draining and cannot take or finish the request. 503. */
export const ShuttingDown = createError(
  'DROVER_ERR_DISPATCH_SHUTTING_DOWN',
  'the server is shutting down; retry on another instance',
  503,
);

/** Reload: a replacement worker could not take over. (reason) */
export const ReloadRefused = createError('DROVER_ERR_RELOAD_REFUSED', 'reload stopped, the running workers keep serving: %s', 500);

/** reverse(): no route has that name. (name, known names) */
export const ReverseUnknownName = createError(
  'DROVER_ERR_REVERSE_NAME',
  'reverse(): no route is named "%s"; named routes: %s',
  500,
);

/** reverse(): a parameter is missing, extra or of the wrong type. (route name, pattern, problem) */
export const ReverseParamInvalid = createError(
  'DROVER_ERR_REVERSE_PARAM',
  'reverse("%s") for pattern %s: %s',
  500,
);

/** The app's `middleware` export is not a list of functions. (path, what was found) */
export const AppMiddlewareInvalid = createError(
  'DROVER_ERR_APP_MIDDLEWARE',
  'the app module %s exports `middleware`, which must be an array of functions `(next) => (req) => response`; found %s',
  500,
);

/** Declaration: a route names a pool the app does not declare, or a pool declaration is bad. (detail) */
export const PoolInvalid = createError('DROVER_ERR_POOL', '%s', 500);
