/**
 * drover's JSON error answer from the front, `{ error, status, requestId }`: one shape for every
 * 4xx and 5xx the front gives itself (routing, limits, dispatch, files).
 */
import type { FastifyReply } from 'fastify';
import { errorPayload } from '../http.js';

/**
 * Answers `reply` with `status` and drover's JSON error body.
 *
 * @example
 * sendError(reply, 404, 'no such file');
 */
export function sendError(reply: FastifyReply, status: number, message: string, extra?: Record<string, unknown>): FastifyReply {
  return reply
    .code(status)
    .header('x-request-id', reply.request.id) // also where no hook runs (frameworkErrors)
    .type('application/json; charset=utf-8')
    .send(JSON.stringify(errorPayload(status, message, reply.request.id, extra)));
}
