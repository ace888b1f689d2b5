/**
 * The baseline: the example app's views on plain fastify, one thread, views inline — what a
 * Node user would write without drover. Routes come from the same route table, matched by
 * fastify's router with the same compiled patterns.
 *
 * Usage: node dist/bench/plain.js PORT [--logger]. With --logger, fastify's own logger is on
 * (`Fastify({ logger: true })`: two JSON lines per request on stdout), as most deployed fastify apps
 * run: the like-for-like baseline for drover, which writes an access line per request. With
 * --downloads DIR, /downloads/ serves DIR with @fastify/static (the baseline for drover's file()).
 * A view's stream() is sent as fastify sends any stream: Readable.from() of the same generator.
 * With --cluster N, N such processes share the port through node:cluster (what a fastify user
 * runs to use several cores).
 */
import cluster from 'node:cluster';
import { Readable } from 'node:stream';
import fastifyStatic from '@fastify/static';
import Fastify from 'fastify';
import { pino } from 'pino';
import routes from '../app/index.js';
import { compilePattern, convertParams } from '../src/router.js';

const port = Number(process.argv[2] ?? 8100);
const clusterAt = process.argv.indexOf('--cluster');
if (clusterAt !== -1 && cluster.isPrimary) {
  const workers = Array.from({ length: Number(process.argv[clusterAt + 1] ?? 2) }, () => cluster.fork());
  process.on('SIGTERM', () => {
    for (const w of workers) w.process.kill('SIGTERM');
    void Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve)))).then(() => process.exit(0));
  });
  await new Promise(() => undefined); // the primary only supervises
}
const app = Fastify({ logger: process.argv.includes('--logger') });
const log = pino({ level: 'silent' });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

const downloadsAt = process.argv.indexOf('--downloads');
if (downloadsAt !== -1) {
  await app.register(fastifyStatic, { root: process.argv[downloadsAt + 1] as string, prefix: '/downloads/', decorateReply: false, index: false });
}

for (const route of routes) {
  if (downloadsAt !== -1 && route.pattern.startsWith('/downloads/')) continue;
  const compiled = compilePattern(route.pattern);
  app.route({
    method: [...route.methods],
    url: compiled.routerUrl,
    handler: async (request, reply) => {
      const params = convertParams(compiled, request.params as Record<string, string>);
      if (!params) return reply.callNotFound();
      const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
      const req = {
        method: request.method,
        path: request.url.split('?')[0] as string,
        url: request.url,
        params,
        query: request.query as Record<string, string>,
        headers: request.headers as Record<string, string>,
        body,
        id: request.id,
        log,
        text: () => body.toString(),
        json: () => JSON.parse(body.toString()) as unknown,
        signal: new AbortController().signal,
      };
      const result = await (route.view as unknown as (r: typeof req) => unknown)(req);
      const streamed = result as { stream?: AsyncIterable<unknown>; status?: number; headers?: Record<string, string> } | null;
      if (streamed && typeof streamed === 'object' && streamed.stream) {
        return reply.code(streamed.status ?? 200).headers(streamed.headers ?? {}).send(Readable.from(streamed.stream));
      }
      return result;
    },
  });
}
app.get('/healthz', async () => ({ status: 'ok' }));
await app.listen({ port, host: '127.0.0.1' });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
