/**
 * `drover init [DIR] [--drover SPEC]`: scaffolds a new project that depends on drover (see
 * `../scaffold.ts` for what it writes). Never overwrites: one existing file and nothing is written.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CliUsage } from '../../errors.js';
import { droverManifest, droverSpec, packageName, scaffoldFiles, writeScaffold } from '../scaffold.js';
import type { Command } from './common.js';

/** `dir` as a shell word, quoted only when it needs to be. */
const shellWord = (dir: string): string => (/^[\w./@%+=:,-]+$/.test(dir) ? dir : `'${dir.replaceAll("'", "'\\''")}'`);

export const init: Command = {
  usage: 'drover init [DIR] [--drover SPEC]',
  summary: 'Scaffold a project in DIR (default: here): app, test, Procfile, .env.example; --drover sets the dependency spec.',
  async run(args) {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { drover: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 1) {
      throw new CliUsage(`drover init takes at most one DIR, got ${positionals.length}: ${positionals.join(' ')}`);
    }
    const given = positionals[0] ?? '.';
    const dir = resolve(given);
    const own = droverManifest();
    const files = scaffoldFiles({
      name: packageName(dir),
      drover: droverSpec(values.drover, own.version),
      promClient: own.promClient,
    });
    writeScaffold(dir, files);
    const cd = resolve(given) === process.cwd() ? '' : `cd ${shellWord(given)} && `;
    process.stdout.write(
      [
        `Created a drover project in ${dir}:`,
        ...Object.keys(files).map((path) => `  ${path}`),
        '',
        'Next steps:',
        `  ${cd}npm install && npm test && npm start`,
        '',
        'npm start builds (tsc) and serves on PORT (default 8000); npm run dev reloads as you edit.',
        '',
      ].join('\n'),
    );
    return 0;
  },
};
