/**
 * `drover check [APP]`: validates settings and the app without serving (a PaaS release phase).
 */
import { settingsTable } from '../../../config/settings.js';
import { loadApp } from '../../app/app-loader.js';
import { staticDirectory } from '../../server.js';
import { describeSettings } from '../../settings.js';
import { appPath, readSettings, type Command } from './common.js';

export const check: Command = {
  usage: 'drover check [APP]',
  summary: 'Load the settings and APP, print the effective settings (secrets masked); exit non-zero naming what is wrong.',
  async run(args) {
    const settings = readSettings(); // a bad setting throws here, naming it
    const app = appPath(args, settings);
    const { routes, middleware } = await loadApp(app);
    const staticRoot = staticDirectory(settings);
    const lines = [
      'Settings:',
      ...describeSettings(settingsTable, settings).map((l) => `  ${l}`),
      `App: ${app} (${routes.length} routes, ${middleware.length} middleware)`,
      `Static files: ${staticRoot ? `${staticRoot} at ${settings.STATIC_URL}` : 'off (no STATIC_DIR folder)'}`,
      'OK',
      '',
    ];
    process.stdout.write(lines.join('\n'));
    return 0;
  },
};
