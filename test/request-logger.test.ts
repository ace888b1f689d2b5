// request.log on the front: a pino child made on first use, writing the same lines a child would.
import t from 'tap';
import { pino } from 'pino';
import type { FastifyBaseLogger } from 'fastify';
import { requestLogger } from '../dist/src/request-logger.js';

function capture(): { logger: FastifyBaseLogger; lines: Record<string, unknown>[]; children: () => number } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ base: null, timestamp: false, level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  let made = 0;
  const child = logger.child;
  // Counts children made from the root only; a child's own children use pino's method as is.
  logger.child = function (this: typeof logger, ...args: Parameters<typeof child>) {
    if (this === logger) made++;
    return child.apply(this, args);
  } as typeof logger.child;
  return { logger, lines, children: () => made };
}

t.test('no child logger is made until something logs', async (t) => {
  const { logger, lines, children } = capture();
  const log = requestLogger(logger, { reqId: 'r-1' }, {});
  t.equal(log.level, 'info', 'the level is the parent’s');
  t.equal(children(), 0);
  log.error({ route: '/x' }, 'request failed');
  log.warn('second');
  t.equal(children(), 1, 'one child, made on first use and kept');
  t.same(lines, [
    { level: 50, reqId: 'r-1', route: '/x', msg: 'request failed' },
    { level: 40, reqId: 'r-1', msg: 'second' },
  ]);
});

t.test('levels, format arguments and grandchildren behave as on a pino child', async (t) => {
  const { logger, lines } = capture();
  const log = requestLogger(logger, { reqId: 'r-2' }, { level: 'warn' });
  t.equal(log.level, 'warn', 'a level given for the route');
  log.info('dropped below warn');
  log.warn('%s items', 3);
  log.child({ part: 'body' }).error('nested');
  log.level = 'debug';
  log.debug('now shown');
  log.trace('still hidden');
  log.fatal('last');
  log.silent('nothing');
  t.same(lines, [
    { level: 40, reqId: 'r-2', msg: '3 items' },
    { level: 50, reqId: 'r-2', part: 'body', msg: 'nested' },
    { level: 20, reqId: 'r-2', msg: 'now shown' },
    { level: 60, reqId: 'r-2', msg: 'last' },
  ]);
});
