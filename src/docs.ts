/**
 * `npm run docs`: regenerates the README's settings table from `config/settings.ts`, between the
 * `<!-- settings:start -->` and `<!-- settings:end -->` markers. A test fails when it is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { settingsTable } from '../config/settings.js';
import { renderSettingsTable } from './settings.js';

const START = '<!-- settings:start -->';
const END = '<!-- settings:end -->';

/** Returns `readme` with its settings section replaced by the current table. */
export function withSettingsTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start === -1 || end < start) throw new Error(`README.md needs the markers ${START} and ${END}`);
  return `${readme.slice(0, start + START.length)}\n${renderSettingsTable(settingsTable)}\n${readme.slice(end)}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const path = fileURLToPath(new URL('../../README.md', import.meta.url));
  writeFileSync(path, withSettingsTable(readFileSync(path, 'utf8')));
}
