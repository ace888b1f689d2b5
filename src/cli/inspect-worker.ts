/**
 * The thread `drover check` and `drover routes` load the app in (see inspect.ts): it imports and
 * validates the app exactly as a worker thread of `serve` does, and posts back what it found as
 * plain data. It runs no hook and serves nothing.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { threadError } from '../app/app-errors.js';
import { describeRoutes, loadApp } from '../app/app-loader.js';
import { describeHandlers } from '../events/handlers.js';
import { describeSettings, setSettingsEnvironment } from '../settings.js';
import type { AppReport, InspectData, InspectResult } from './inspect.js';

const { app, env } = workerData as InspectData;
// A listener keeps the thread alive while the import awaits something that never settles (an empty
// event loop would end the thread silently): BOOT_TIMEOUT, in the caller, then names the stage.
parentPort?.on('message', () => undefined);
setSettingsEnvironment(env);
let result: InspectResult;
try {
  const loaded = await loadApp(app);
  const report: AppReport = {
    routes: describeRoutes(loaded.routes),
    middleware: loaded.middleware.length,
    pools: loaded.pools,
    hooks: (['startup', 'shutdown'] as const).filter((h) => loaded[h] !== null),
    settings: loaded.settings ? describeSettings(loaded.settings, loaded.settingValues) : null,
    events: describeHandlers(loaded.events),
    schedules: loaded.schedules,
  };
  result = { ok: true, report };
} catch (err) {
  result = { ok: false, error: threadError(err) };
}
parentPort?.postMessage(result);
