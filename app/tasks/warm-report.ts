/**
 * An admin task (`drover run dist/app/tasks/warm-report.js [ROWS]`): builds the report once and
 * logs its size, with the web process's settings and logger.
 */
import type { TaskContext } from 'drover';
import type { settings as appSettings } from '../settings.js';
import { report } from '../views/compute.js';

export default function warmReport(args: string[], { settings, log }: TaskContext<typeof appSettings>): number {
  const expected = Number(args[0] ?? settings.REPORT_ROWS);
  const { rows } = report();
  log.info({ rows: rows.length }, 'report built');
  return rows.length === expected ? 0 : 3;
}
