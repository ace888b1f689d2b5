/**
 * CONNECT requests (authority-form, RFC 9112 §3.2.3) arrive on Node's 'connect' event, outside
 * fastify. drover tunnels nothing, so it answers 405 with its methods in `Allow` and drover's JSON
 * error body, logs the access line and counts it, then closes the connection (a CONNECT leaves
 * the connection in an undefined state either way).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { errorPayload } from '../http.js';
import { UNMATCHED_ROUTE, type FrontMetrics } from '../metrics.js';
import { SERVER_ALLOW } from './request-target.js';

/**
 * Answers a CONNECT request on its socket with 405 and closes it.
 *
 * @example
 * app.server.on('connect', (req, socket) => refuseConnect(req, socket, logger, metrics));
 */
export function refuseConnect(req: IncomingMessage, socket: Duplex, logger: Logger, metrics: FrontMetrics): void {
  const started = performance.now();
  const reqId = randomUUID();
  const body = JSON.stringify(errorPayload(405, `CONNECT is not supported: this server is not a proxy; allowed: ${SERVER_ALLOW}`, reqId));
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nAllow: ${SERVER_ALLOW}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${reqId}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  const responseTime = performance.now() - started;
  metrics.observe('CONNECT', UNMATCHED_ROUTE, 405, responseTime / 1000);
  logger.info(
    { reqId, method: 'CONNECT', url: req.url, route: UNMATCHED_ROUTE, statusCode: 405, responseTime, worker: null, ip: req.socket.remoteAddress },
    'request completed',
  );
}
