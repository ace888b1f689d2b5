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

/** Boot: the app module threw while it was imported. (path, the app's own message and stack) */
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

/** Boot: a required setting is unset. (name, what is expected) */
export const SettingMissing = createError(
  'DROVER_ERR_SETTINGS_MISSING',
  'setting %s is required and not set: expected %s; set it in the environment or in .env',
  500,
);

/** Boot: no app module was found, or the path given does not exist. (what was tried and how to fix it) */
export const AppNotFound = createError('DROVER_ERR_APP_NOT_FOUND', '%s', 500);

/** Boot: the app path is TypeScript source. (path, suggestion) */
export const AppIsTypeScript = createError(
  'DROVER_ERR_APP_TYPESCRIPT',
  'the app module %s is TypeScript source, which Node does not run: build it (npm run build, i.e. tsc) and serve the compiled module, %s',
  500,
);

/** Boot: the app module is CommonJS (or ESM in a CommonJS package). (path, what was found) */
export const AppIsCommonJs = createError(
  'DROVER_ERR_APP_COMMONJS',
  'the app module %s %s; drover apps are ES modules: put "type": "module" in your package.json and compile with "module": "NodeNext" in tsconfig.json',
  500,
);

/** Boot: an entry of the route table is not a route. (path, index, what was found) */
export const AppRouteEntryInvalid = createError(
  'DROVER_ERR_APP_ROUTE_ENTRY',
  'entry %s of the route table in %s is %s, not a route; make every entry with get(), post(), put(), patch(), del() or route() from drover',
  500,
);

/** Boot: the app's `startup`/`shutdown`/`settings` export has the wrong shape. (path, export, "as <what was found>; <what to do>") */
export const AppExportInvalid = createError('DROVER_ERR_APP_EXPORT', 'the app module %s exports `%s` %s', 500);

/** Boot: the app's startup hook threw or rejected. (app path, pool, message) */
export const StartupFailed = createError(
  'DROVER_ERR_APP_STARTUP',
  'the startup hook of the app module %s failed (pool "%s"): %s',
  500,
);

/** A worker thread retired and the app's shutdown hook failed or overran. (what happened) */
export const ShutdownHookFailed = createError('DROVER_ERR_APP_SHUTDOWN', "the app's shutdown hook %s", 500);

/** Boot: the worker thread stopped while importing the app or running its startup hook. (stage, cause) */
export const AppThreadExited = createError(
  'DROVER_ERR_APP_THREAD_EXIT',
  'the worker thread stopped while %s (%s); app code must not call process.exit() or leave errors uncaught in timers and callbacks: throw instead',
  500,
);

/** A command ended with nothing settled: the work it awaited never finished. */
export const CliUnfinished = createError(
  'DROVER_ERR_CLI_UNFINISHED',
  'the command stopped before finishing: something it waited for (an import, a hook) never settled',
  500,
);

/** Boot: a stage of boot passed BOOT_TIMEOUT. (stage, seconds) */
export const BootTimedOut = createError(
  'DROVER_ERR_BOOT_TIMEOUT',
  'boot did not finish within BOOT_TIMEOUT (%s s) while %s; look for an import or a startup hook that never settles (a connection without a timeout), or raise BOOT_TIMEOUT',
  500,
);

/** Boot: a SIGTERM or SIGINT arrived before the server was up. (signal) */
export const BootInterrupted = createError('DROVER_ERR_BOOT_INTERRUPTED', 'boot interrupted by %s before the server was listening', 500);

/** Boot: the app's prom-client is not the one drover serves, so its metrics would be missing. (detail) */
export const MetricsRegistryMismatch = createError(
  'DROVER_ERR_METRICS_REGISTRY',
  '%s; the app\'s metrics would be missing from /metrics. Install one prom-client for both (npm ls prom-client shows the copies; drover needs it as a peer dependency, so remove the nested one or align the versions)',
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

/** A streaming view yielded a chunk that is not bytes or a string. (route, type found) */
export const ViewStreamChunkInvalid = createError(
  'DROVER_ERR_VIEW_STREAM_CHUNK',
  'route %s: the response stream yielded %s; yield Uint8Array (Buffer) or string chunks, e.g. JSON.stringify(row) + "\\n"',
  500,
);

/**
 * A response stream stopped before its end, after its status and headers were sent: the
 * connection is closed without the final chunk, so the client sees a truncated response, not a
 * complete one. (route, why)
 */
export const ResponseStreamCut = createError('DROVER_ERR_RESPONSE_STREAM_CUT', 'route %s: the response stream was cut: %s', 500);

/** Helper misuse: a response helper got an invalid status. (helper, status) */
export const ResponseStatusInvalid = createError(
  'DROVER_ERR_RESPONSE_STATUS',
  '%s() got status %s; use an integer HTTP status from 100 to 599 (redirect: 300 to 399)',
  500,
);

/** A response header that is not legal HTTP. 500. (route, header, what is wrong) */
export const ResponseHeaderInvalid = createError(
  'DROVER_ERR_RESPONSE_HEADER',
  'route %s: response header %s is not legal HTTP (%s); header names are tokens, and values carry no CR, LF or NUL',
  500,
);

/** Signed cookies need SECRET_KEY. (what needed it) */
export const SecretKeyMissing = createError(
  'DROVER_ERR_SECRET_KEY',
  '%s needs the SECRET_KEY setting: set it to a long random secret (it signs cookies); keep it the same across deploys',
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

/** A replacement thread (after a crash, a recycle, or a standby) could not boot. (reason) */
export const WorkerBootFailed = createError(
  'DROVER_ERR_WORKER_BOOT',
  'a replacement worker thread could not take over, the running ones keep serving and it is retried with backoff: %s',
  500,
);

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

/** `drover init`: files of the new project already exist; nothing was written. (directory, files) */
export const InitWouldOverwrite = createError(
  'DROVER_ERR_INIT_EXISTS',
  'drover init wrote nothing: %s already has %s; choose an empty directory (drover init DIR), or remove those files and run it again',
  500,
);

/** Events: the embedded event database cannot be opened or written. (path, why) */
export const BusOpenFailed = createError(
  'DROVER_ERR_BUS_OPEN',
  'cannot open the event database %s: %s; check that its folder is writable and that no other program holds the file locked',
  500,
);

/** Boot: the event database was written with another layout than this drover's. (path, its version, ours) */
export const BusSchemaUnknown = createError(
  'DROVER_ERR_BUS_SCHEMA',
  'the event database %s was written by another version of drover (schema %s; this one reads schema %s); move the file aside (with its -wal and -shm files) to start an empty bus, or run the drover that wrote it until its backlog is empty',
  500,
);

/** Boot: the app's `events` export, or an on() declaration, is wrong. (what is wrong and how to fix it) */
export const AppEventsInvalid = createError('DROVER_ERR_APP_EVENTS', '%s', 500);

/** Events: publish() got something it cannot send. (topic, what is wrong) */
export const EventPublishInvalid = createError('DROVER_ERR_EVENT_PUBLISH', 'publish("%s"): %s', 500);

/** Events: a payload over EVENT_MAX_BYTES. (topic, size, limit) */
export const EventPayloadTooLarge = createError(
  'DROVER_ERR_EVENT_TOO_LARGE',
  'publish("%s"): the payload is %s bytes of JSON, over EVENT_MAX_BYTES (%s); publish a reference to the data (a file path, a key) instead',
  500,
);

/** Events: the bus did not take a request's events; nothing was published. 503. (count, why) */
export const BusUnavailable = createError(
  'DROVER_ERR_BUS_UNAVAILABLE',
  'the event bus did not take this request\'s %s event(s): %s; nothing was published, so the request is answered 503 and may be retried',
  503,
);
