/**
 * `drover check [APP]`: runs the validation `serve` runs at boot — settings, the app's import,
 * routes, middleware, pools (and POOL_THREADS against them), app settings, event handlers, the
 * static folder — without serving (a PaaS release phase). Prints its verdict either way.
 */
import { settingsTable } from '../../../config/settings.js';
import { DEFAULT_POOL, checkPoolThreads } from '../../app/app-loader.js';
import { inspectApp } from '../inspect.js';
import { corsOptions } from '../../front/cors.js';
import { staticDirectory } from '../../server.js';
import { describeSettings } from '../../settings.js';
import { appPath, parseCommand, readSettings, type Command } from './common.js';

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

const SOURCES = { argument: 'the command line', APP: 'the APP setting', 'package.json': 'package.json', convention: 'the default location' };

export const check: Command = {
  usage: 'drover check [APP]',
  summary: 'Validate the settings and APP as serve does at boot, print them (secrets masked) and OK; exit non-zero naming what is wrong.',
  async run(args) {
    const { positionals } = parseCommand(check, args, 1);
    const { settings, env } = readSettings(); // a bad setting throws here, naming it
    const found = appPath(positionals[0], settings);
    const app = await inspectApp(found.path, settings, env); // app settings are validated here too
    checkPoolThreads(settings.POOL_THREADS, app.pools);
    const staticRoot = staticDirectory(settings);
    corsOptions(settings); // refuses CORS_CREDENTIALS with CORS_ORIGINS=*, as serve does
    const pools = [`${DEFAULT_POOL}=${settings.WEB_CONCURRENCY}`, ...Object.entries(app.pools).map(([n, p]) => `${n}=${settings.POOL_THREADS[n] ?? p.threads}`)];
    // Every web process has all the pools: the totals are what the machine's cores must carry.
    const appThreads = Object.entries(app.pools).reduce((n, [name, p]) => n + (settings.POOL_THREADS[name] ?? p.threads), 0);
    const eventThreads = settings.SERVE_EVENTS && app.events.length > 0 ? settings.EVENT_THREADS : 0;
    const perProcess = settings.WEB_CONCURRENCY + appThreads + eventThreads;
    const processes = `${settings.WEB_PROCESSES} web process${settings.WEB_PROCESSES === 1 ? '' : 'es'}${settings.WEB_PROCESSES > 1 ? ' under a supervisor' : ''}`;
    const split = `${settings.WEB_CONCURRENCY} default${appThreads > 0 ? ` + ${appThreads} in named pools` : ''}${eventThreads > 0 ? ` + ${eventThreads} events` : ''}`;
    const hooks = app.hooks;
    const lines = [
      'Settings:',
      ...describeSettings(settingsTable, settings).map((l) => `  ${l}`),
      ...(app.settings ? ['App settings:', ...app.settings.map((l) => `  ${l}`)] : []),
      `App: ${found.path} (from ${SOURCES[found.source]}; ${plural(app.routes.length, 'route')}, ${app.middleware} middleware)`,
      `Pools: ${pools.join(', ')} threads`,
      `Processes: ${processes}, ${plural(perProcess, 'thread')} each (${split}): ${plural(settings.WEB_PROCESSES * perProcess, 'worker thread')} in all`,
      `Hooks: ${hooks.length > 0 ? hooks.join(', ') : 'none'}`,
      ...(app.events.length > 0
        ? ['Event handlers:', ...app.events.map((h) => `  ${h.topic} -> ${h.name} (pool ${h.pool}, ${plural(h.attempts, 'attempt')}, timeout ${h.timeout}s, concurrency ${h.concurrency})`)]
        : ['Event handlers: none']),
      ...(app.schedules.length > 0 ? ['Schedules:', ...app.schedules.map((s) => `  "${s.cron}" (${s.tz}) -> ${s.topic}`)] : []),
      `Static files: ${staticRoot ? `${staticRoot} at ${settings.STATIC_URL}` : 'off (no STATIC_DIR folder)'}`,
      'OK',
      '',
    ];
    process.stdout.write(lines.join('\n'));
    return 0;
  },
};
