/**
 * An admin task (`drover run dist/app/tasks/warm-report.js [ROWS]`): builds the report once and
 * logs its size, with the web process's settings and logger.
 */
import type { TaskContext } from 'drover';
import { report } from '../views/compute.js';

export default function warmReport(args: string[], { log }: TaskContext): number {
  const expected = Number(args[0] ?? 1000);
  const { rows } = report();
  log.info({ rows: rows.length }, 'report built');
  return rows.length === expected ? 0 : 3;
}
