/**
 * The example app's own settings, declared once like drover's: read from the environment (and
 * `.env`) at boot, validated before the server listens, shown by `drover check`, typed in views.
 */
import { defineSettings, integer, nonEmpty } from 'drover';

export const settings = defineSettings({
  REPORT_ROWS: {
    parser: integer(1, 100_000),
    default: 1000,
    description: 'Rows that GET /report builds on each request (and GET /export.csv streams).',
  },
  APP_DB: {
    parser: nonEmpty('a file path'),
    default: 'var/app.db',
    description: "The example app's own SQLite database: uploads, their processing steps, and what the analysis handlers computed.",
  },
  UPLOADS_DIR: {
    parser: nonEmpty('a folder path'),
    default: 'var/uploads',
    description: 'Where POST /uploads stores files, and the resize and thumbnail handlers write their outputs.',
  },
  DOWNLOADS_DIR: {
    parser: nonEmpty('a folder path'),
    default: 'app/static',
    description: 'The folder GET /downloads/<path:name> sends files from (relative to the working directory).',
  },
});
