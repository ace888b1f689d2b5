/**
 * `drover events`: the bus as operators see it (Celery's `inspect`, Sidekiq's web UI): per
 * handler, its deliveries by state and how long the oldest ready one has waited; the dead ones
 * with their last error; and acting on them: retry, purge.
 */
import { resolve } from 'node:path';
import { CliUsage } from '../../errors.js';
import type { EventBus } from '../../events/bus.js';
import { openSqliteBus } from '../../events/sqlite-bus.js';
import { inspectApp } from '../inspect.js';
import { appPath, parseCommand, readSettings, type Command } from './common.js';

/** Rows as aligned columns, header first. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(header), ...rows.map(line), ''].join('\n');
}

const age = (ms: number | null): string => (ms === null ? '-' : ms < 1000 ? `${Math.round(ms)}ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 60_000)}m`);

const SUBCOMMANDS = new Set(['dead', 'retry', 'purge']);

export const events: Command = {
  usage: 'drover events [APP | dead | retry | purge]',
  summary: "Each handler's deliveries (ready, delayed, running, dead, oldest ready); dead [HANDLER] lists dead ones, retry ID... | --all revives, purge --dead deletes.",
  options: {
    all: { type: 'boolean', description: 'with retry: every dead delivery' },
    dead: { type: 'boolean', description: 'with purge: delete every dead delivery' },
  },
  async run(args) {
    const { positionals, values } = parseCommand(events, args, Number.POSITIVE_INFINITY);
    const { settings, env } = readSettings();
    const [first, ...rest] = positionals;
    const sub = first !== undefined && SUBCOMMANDS.has(first) ? first : null;
    if (sub === null && positionals.length > 1) throw new CliUsage(`drover events takes at most one APP; usage: ${events.usage}`);
    // Listing needs the app (handlers with nothing on the bus are listed too); the rest only the bus.
    const handlers = sub === null ? (await inspectApp(appPath(first, settings).path, settings, env)).events : [];
    const bus: EventBus = openSqliteBus(resolve(settings.BUS_PATH));
    try {
      if (sub === null) {
        const backlog = new Map((await bus.backlog()).map((b) => [b.handler, b]));
        const rows = handlers.map((h) => {
          const b = backlog.get(h.name);
          backlog.delete(h.name);
          return [h.name, h.topic, String(b?.ready ?? 0), String(b?.delayed ?? 0), String(b?.running ?? 0), String(b?.dead ?? 0), age(b?.oldestReadyMs ?? null)];
        });
        // Deliveries of handlers the app no longer declares: nobody will run them.
        for (const b of backlog.values()) rows.push([`${b.handler} (not in the app)`, '-', String(b.ready), String(b.delayed), String(b.running), String(b.dead), age(b.oldestReadyMs)]);
        process.stdout.write(table(['HANDLER', 'TOPIC', 'READY', 'DELAYED', 'RUNNING', 'DEAD', 'OLDEST READY'], rows));
        return 0;
      }
      if (sub === 'dead') {
        if (rest.length > 1) throw new CliUsage('drover events dead takes at most one HANDLER');
        const dead = await bus.dead(rest[0]);
        const rows = dead.map((d) => [d.id, d.handler, d.topic, String(d.attempts), new Date(d.publishedAt).toISOString(), (d.lastError ?? '').replace(/\s+/g, ' ').slice(0, 200)]);
        process.stdout.write(table(['ID', 'HANDLER', 'TOPIC', 'ATTEMPTS', 'PUBLISHED', 'LAST ERROR'], rows));
        return 0;
      }
      if (sub === 'retry') {
        if (values.all === true ? rest.length > 0 : rest.length === 0) throw new CliUsage('drover events retry takes delivery IDs (from drover events dead), or --all');
        const revived = await bus.revive(values.all === true ? 'all' : rest);
        process.stdout.write(`${revived} dead deliver${revived === 1 ? 'y' : 'ies'} ready again, with fresh attempts\n`);
        return 0;
      }
      if (values.dead !== true || rest.length > 0) throw new CliUsage('drover events purge needs --dead (it deletes every dead delivery)');
      const purged = await bus.purgeDead();
      process.stdout.write(`${purged} dead deliver${purged === 1 ? 'y' : 'ies'} deleted\n`);
      return 0;
    } finally {
      await bus.close();
    }
  },
};
