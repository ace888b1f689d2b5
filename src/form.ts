/**
 * `req.form()`: `application/x-www-form-urlencoded` and `multipart/form-data` bodies, parsed by
 * busboy (the ecosystem's multipart parser) in the worker thread, never by hand and never on the
 * front. The front has already received the body, bounded by BODY_LIMIT; the form limits below
 * bound what a body may hold. Over a limit is a 413 naming it, a malformed body a 400.
 */
import busboy from 'busboy';
import { httpError } from './http.js';

/** One uploaded file of a multipart form, whole in memory (its size is bounded by FORM_MAX_FILE_SIZE). */
export interface UploadedFile {
  /** The form field it came in. */
  readonly field: string;
  /** The file name the client gave (not a path to trust). */
  readonly filename: string;
  /** The Content-Type the client gave. */
  readonly type: string;
  readonly size: number;
  readonly bytes: Uint8Array;
}

/** A parsed form: its fields (a repeated name gives an array) and its files. */
export interface Form {
  readonly fields: Readonly<Record<string, string | string[]>>;
  readonly files: readonly UploadedFile[];
}

/** FORM_MAX_FILE_SIZE, FORM_MAX_FILES and FORM_MAX_FIELDS. */
export interface FormLimits {
  readonly maxFileSize: number;
  readonly maxFiles: number;
  readonly maxFields: number;
}

const FORM_TYPE = /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i;

/**
 * Parses `body`, sent with `contentType`, within `limits`.
 *
 * @example
 * const { fields, files } = await parseForm(req.headers['content-type'], req.body, limits);
 */
export function parseForm(contentType: string | undefined, body: Uint8Array, limits: FormLimits): Promise<Form> {
  if (contentType === undefined || !FORM_TYPE.test(contentType)) {
    return Promise.reject(httpError(415, `unsupported content type ${JSON.stringify(contentType ?? '')} for a form; send application/x-www-form-urlencoded or multipart/form-data`));
  }
  return new Promise<Form>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: { 'content-type': contentType },
        // One more than allowed, so that going over is seen (busboy stops silently at the limit).
        limits: { fileSize: limits.maxFileSize + 1, files: limits.maxFiles, fields: limits.maxFields },
      });
    } catch (err) {
      reject(httpError(400, `malformed form: ${(err as Error).message}`));
      return;
    }
    const fields: Record<string, string | string[]> = {};
    const files: UploadedFile[] = [];
    let failed = false;
    const fail = (error: Error): void => {
      if (failed) return;
      failed = true;
      reject(error);
    };
    parser.on('field', (name, value) => {
      const previous = fields[name];
      fields[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
    });
    parser.on('file', (field, stream, info) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxFileSize) {
          fail(httpError(413, `the file in field "${field}" is larger than FORM_MAX_FILE_SIZE (${limits.maxFileSize} bytes)`));
          stream.resume();
          return;
        }
        chunks.push(chunk);
      });
      stream.on('end', () => {
        if (size <= limits.maxFileSize) files.push({ field, filename: info.filename ?? "", type: info.mimeType, size, bytes: new Uint8Array(Buffer.concat(chunks)) });
      });
    });
    parser.on('filesLimit', () => fail(httpError(413, `the form has more than FORM_MAX_FILES (${limits.maxFiles}) files`)));
    parser.on('fieldsLimit', () => fail(httpError(413, `the form has more than FORM_MAX_FIELDS (${limits.maxFields}) fields`)));
    parser.on('error', (err: Error) => fail(httpError(400, `malformed form: ${err.message}`)));
    parser.on('close', () => {
      if (!failed) resolve(Object.freeze({ fields: Object.freeze(fields), files: Object.freeze(files) }));
    });
    parser.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  });
}
