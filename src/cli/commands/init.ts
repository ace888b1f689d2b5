/**
 * `drover init [DIR] [--drover SPEC]`: scaffolds a new project that depends on drover (see
 * `../scaffold.ts` for what it writes). Never overwrites: one existing file and nothing is written.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { droverDependency, droverManifest, packageName, scaffoldFiles, writeScaffold } from '../scaffold.js';
import { parseCommand, type Command } from './common.js';

/** `dir` as a shell word, quoted only when it needs to be. */
const shellWord = (dir: string): string => (/^[\w./@%+=:,-]+$/.test(dir) ? dir : `'${dir.replaceAll("'", "'\\''")}'`);

export const init: Command = {
  usage: 'drover init [DIR] [--drover SPEC]',
  summary: 'Scaffold a project in DIR (default: here, created if missing): app, test, Procfile, .env.example. Never overwrites a file.',
  options: {
    drover: {
      type: 'string',
      description:
        'The drover dependency to write: a git URL, a tarball (copied to vendor/ and depended on there) or a directory; default: what this drover was installed from, else ^ its version.',
    },
  },
  async run(args) {
    const { positionals, values } = parseCommand(init, args, 1);
    const given = positionals[0] ?? '.';
    const dir = resolve(given);
    const own = droverManifest();
    const dependency = droverDependency(values.drover as string | undefined, own.version, dir);
    const files: Record<string, string | Uint8Array> = {
      ...scaffoldFiles({ name: packageName(dir), drover: dependency.spec, promClient: own.promClient }),
      ...(dependency.vendor ? { [`vendor/${dependency.vendor.name}`]: readFileSync(dependency.vendor.from) } : {}),
    };
    writeScaffold(dir, files);
    const cd = dir === process.cwd() ? '' : `cd ${shellWord(given)} && `;
    process.stdout.write(
      [
        `Created a drover project in ${dir}:`,
        ...Object.keys(files).map((path) => `  ${path}`),
        '',
        'Next steps:',
        `  ${cd}npm install && npm test && npm start`,
        '',
        'npm start builds (tsc) and serves on PORT (default 8000); npm run dev recompiles and reloads as you edit.',
        '',
      ].join('\n'),
    );
    return 0;
  },
};
