/**
 * The upload pipeline: `upload.received` fans out to resize and thumbnail, independent jobs that
 * each write an output next to the upload and publish their own completion event; `finish`
 * consumes both and records each step done.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { EventContext } from 'drover';
import { settings } from '../settings.js';
import { once, store } from '../store.js';

export interface Upload {
  readonly id: string;
  readonly name: string;
}

const original = (u: Upload): Buffer => readFileSync(join(resolve(settings.UPLOADS_DIR, u.id), u.name));

/** "Resizes": writes the upload at half its size. */
export async function resize(upload: Upload, ctx: EventContext): Promise<void> {
  const bytes = original(upload);
  writeFileSync(join(resolve(settings.UPLOADS_DIR, upload.id), `resized-${upload.name}`), bytes.subarray(0, Math.ceil(bytes.length / 2)));
  ctx.log.info({ upload: upload.id, bytes: bytes.length }, 'resized');
  await ctx.publish('upload.resized', { id: upload.id });
}

/**
 * Makes a thumbnail. A file named like "corrupt…" cannot be decoded: the handler fails, is
 * retried with backoff, and ends dead (`drover events dead thumbnail`).
 */
export async function thumbnail(upload: Upload, ctx: EventContext): Promise<void> {
  if (upload.name.startsWith('corrupt')) throw new Error(`cannot decode ${upload.name}`);
  const bytes = original(upload);
  writeFileSync(join(resolve(settings.UPLOADS_DIR, upload.id), `thumb-${upload.name}`), bytes.subarray(0, 16));
  await ctx.publish('upload.thumbnailed', { id: upload.id });
}

/** Records a step done (idempotent: a second delivery of the same event changes nothing). */
export function finish(step: 'resize' | 'thumbnail') {
  return (event: { id: string }, ctx: EventContext): void => {
    once(`finish-${step}`, ctx.eventId, (db) => {
      db.prepare("UPDATE upload_steps SET state = 'done' WHERE upload_id = ? AND step = ?").run(event.id, step);
    });
    const left = (store().prepare("SELECT COUNT(*) AS n FROM upload_steps WHERE upload_id = ? AND state != 'done'").get(event.id) as { n: number }).n;
    if (left === 0) ctx.log.info({ upload: event.id }, 'upload processed');
  };
}
