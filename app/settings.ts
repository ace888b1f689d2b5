/**
 * The example app's own settings, declared once like drover's: read from the environment (and
 * `.env`) at boot, validated before the server listens, shown by `drover check`, typed in views.
 */
import { defineSettings, integer } from 'drover';

export const settings = defineSettings({
  REPORT_ROWS: {
    parser: integer(1, 100_000),
    default: 1000,
    description: 'Rows that GET /report builds on each request.',
  },
});
