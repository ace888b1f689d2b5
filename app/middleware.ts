import { withHeaders, type Middleware } from 'drover';

/** Adds a `Server-Timing` header with the time the view took (in its worker thread). */
export const timing: Middleware = (next) => async (req) => {
  const started = performance.now();
  const response = await next(req);
  return withHeaders(response, { 'server-timing': `view;dur=${(performance.now() - started).toFixed(2)}` });
};
