/**
 * file() responses, sent by the front from disk with @fastify/send (what @fastify/static uses):
 * Content-Type from the extension, ETag, Last-Modified, Range (206, 416), conditional requests
 * (304), dotfiles refused. The view only named the file; its bytes never cross a thread.
 */
import contentDisposition from 'content-disposition';
import send from '@fastify/send';
import type { FastifyReply } from 'fastify';
import type { FileSpec, HeaderPairs } from '../pool/protocol.js';
import { sendError } from './send-error.js';

/**
 * Answers `reply` with the file `spec` names, with the view's own headers (`headers`, e.g. from
 * middleware) under send's. A file that is missing, outside the root, a dotfile or a directory is
 * a 404 that names no path; an unsatisfiable range a 416 with `Content-Range`.
 *
 * @example
 * if (response.file) sendFile(reply, response.headers, response.file);
 */
export function sendFile(reply: FastifyReply, headers: HeaderPairs, spec: FileSpec): void {
  send(reply.request.raw, spec.path, {
    root: spec.root,
    dotfiles: 'deny',
    index: false,
    etag: true,
    lastModified: true,
    acceptRanges: true,
    cacheControl: true,
    maxAge: spec.maxAge * 1000,
  }).then(
    (result) => {
      if (result.type !== 'file') {
        if (result.statusCode === 416) {
          reply.header('content-range', result.headers['Content-Range']);
          sendError(reply, 416, 'the requested range is not satisfiable');
        } else sendError(reply, 404, 'no such file');
        result.stream.destroy();
        return;
      }
      for (let i = 0; i < headers.length; i += 2) reply.header(headers[i] as string, headers[i + 1]);
      reply.code(result.statusCode).headers(result.headers);
      if (spec.type !== null) reply.header('content-type', spec.type);
      if (spec.download !== null) reply.header('content-disposition', contentDisposition(spec.download));
      reply.send(result.stream);
    },
    (err: Error) => reply.send(err),
  );
}
