import { httpError, type Request } from 'drover';
import { settings } from '../settings.js';

/** GET /report — REPORT_ROWS rows (1000), built on each request: serialization-heavy. */
export function report() {
  const rows = [];
  for (let i = 0; i < settings.REPORT_ROWS; i++) {
    rows.push({ id: i, name: `row ${i}`, price: i * 1.25, tags: ['a', 'b'] });
  }
  return { rows };
}

const MAX_N = 50_000_000;

/**
 * GET /primes/<int:n> — counts the primes up to n with a sieve, on every request (no cache).
 * The view that would freeze a single-threaded server; here it only occupies one worker.
 */
export function primes(req: Request<{ n: number }>) {
  const { n } = req.params;
  if (n > MAX_N) throw httpError(400, `n must be at most ${MAX_N}`);
  return { n, count: countPrimes(n) };
}

function countPrimes(n: number): number {
  if (n < 2) return 0;
  const composite = new Uint8Array(n + 1);
  let count = 0;
  for (let i = 2; i <= n; i++) {
    if (composite[i]) continue;
    count++;
    for (let j = i * i; j <= n; j += i) composite[j] = 1;
  }
  return count;
}
