/**
 * One metrics registry: an app's metrics made with prom-client reach /metrics only when the app's
 * `prom-client` is the very copy drover reads (its default registry is a module-level singleton).
 * A second copy — another major version nested under the app, a linked drover with its own
 * node_modules — would make the app's counters silently absent, so boot fails naming both.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { MetricsRegistryMismatch } from '../errors.js';

const require = createRequire(import.meta.url);

/** The root folder of the prom-client package that `file` belongs to, if any. */
function packageRoot(file: string): string | undefined {
  const marker = `${sep}node_modules${sep}prom-client${sep}`;
  const at = file.lastIndexOf(marker);
  return at === -1 ? undefined : file.slice(0, at + marker.length - 1);
}

function version(root: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Throws `DROVER_ERR_METRICS_REGISTRY` when the app (at `appPath`, already imported in this thread)
 * loaded a prom-client other than drover's. prom-client is CommonJS, so every copy loaded in this
 * thread — imported from ESM or required — is in the CommonJS module cache; a copy the app never
 * loads is no problem and is not reported.
 */
export function checkMetricsRegistry(appPath: string): void {
  const ours = realpathSync(dirname(require.resolve('prom-client/package.json')));
  const loaded = new Set<string>();
  for (const file of Object.keys(require.cache)) {
    const root = packageRoot(file);
    if (root !== undefined) loaded.add(realpathSync(root));
  }
  loaded.delete(ours);
  const [other] = loaded;
  if (other !== undefined) {
    throw new MetricsRegistryMismatch(
      `the app ${appPath} loaded prom-client ${version(other)} from ${other}, but drover serves the registry of prom-client ${version(ours)} from ${ours}`,
    );
  }
}
