import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { httpError, json, reverse, type Request } from 'drover';
import { settings } from '../settings.js';
import { store } from '../store.js';

/** The processing steps of an upload, in the order the pipeline finishes them. */
export const STEPS = ['resize', 'thumbnail'] as const;

/**
 * POST /uploads?name=photo.jpg — stores the body and answers 202 at once; the `upload.received`
 * event fans out to the resize and thumbnail handlers (the pipeline), which run in the background.
 */
export function upload(req: Request) {
  const name = typeof req.query.name === 'string' ? req.query.name : '';
  if (!/^[\w.-]{1,100}$/.test(name)) throw httpError(400, 'give the file a name: ?name=photo.jpg (letters, digits, "_", "-", ".")');
  if (req.body.byteLength === 0) throw httpError(400, 'the request body is the file; it is empty');
  const id = randomUUID();
  const folder = resolve(settings.UPLOADS_DIR, id);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, name), req.body);
  const db = store();
  db.transaction(() => {
    db.prepare('INSERT INTO uploads (id, name, size, created_at) VALUES (?, ?, ?, ?)').run(id, name, req.body.byteLength, new Date().toISOString());
    for (const step of STEPS) db.prepare("INSERT INTO upload_steps (upload_id, step, state) VALUES (?, ?, 'pending')").run(id, step);
  })();
  // Written when this view returns, before the 202 leaves: no 202 for an upload nobody will process.
  req.publish('upload.received', { id, name });
  return json({ id, progress: reverse('upload', { id }) }, { status: 202 });
}

/** GET /uploads/<str:id> — the upload's progress through the pipeline. */
export function progress(req: Request<{ id: string }>) {
  const db = store();
  const row = db.prepare('SELECT id, name, size, created_at AS createdAt FROM uploads WHERE id = ?').get(req.params.id) as Record<string, unknown> | undefined;
  if (!row) throw httpError(404, `no upload ${req.params.id}`);
  const steps = Object.fromEntries((db.prepare('SELECT step, state FROM upload_steps WHERE upload_id = ?').all(req.params.id) as { step: string; state: string }[]).map((s) => [s.step, s.state]));
  return { ...row, steps, done: STEPS.every((s) => steps[s] === 'done') };
}
