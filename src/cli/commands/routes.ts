/**
 * `drover routes [APP]`: the route table, one line per route (Django's show_urls).
 */
import { inspectApp } from '../inspect.js';
import { appPath, parseCommand, readSettings, type Command } from './common.js';

export const routes: Command = {
  usage: 'drover routes [APP]',
  summary: 'List the routes of APP: methods, pattern, name, timeout, pool.',
  async run(args) {
    const { positionals } = parseCommand(routes, args, 1);
    const { settings, env } = readSettings();
    const { routes: table } = await inspectApp(appPath(positionals[0], settings).path, settings, env);
    const rows = table.map((r) => [
      r.methods.join(','),
      r.pattern,
      r.name ?? '-',
      `${r.timeout ?? settings.REQUEST_TIMEOUT}s${r.timeout === null ? ' (default)' : ''}`,
      r.pool,
    ]);
    const header = ['METHODS', 'PATTERN', 'NAME', 'TIMEOUT', 'POOL'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
    const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
    process.stdout.write([line(header), ...rows.map(line), ''].join('\n'));
    return 0;
  },
};
