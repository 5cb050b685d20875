import type { IncomingMessage } from 'node:http';

/**
 * The JSON body of a hot route, read as the Express path's parser
 * (body-parser's json with the app's limit and `verify` keeping the raw
 * bytes) reads it, for the one form the hot route takes: `Content-Type:
 * application/json` (optionally `; charset=utf-8`), a Content-Length within
 * the limit, no Content-Encoding, no Transfer-Encoding. Any other form goes
 * to Express, whose parser stays the one place that decides it.
 */

/** Content-Type values, lowercased, that both paths read as UTF-8 JSON. */
const PLAIN_JSON_TYPES = new Set(['application/json', 'application/json; charset=utf-8', 'application/json;charset=utf-8']);

/** The body's length when the request is in the plain form; undefined: leave it to Express. */
export function plainJsonBodyLength(req: IncomingMessage, limitBytes: number): number | undefined {
  const headers = req.headers;
  if (headers['transfer-encoding'] !== undefined || headers['content-encoding'] !== undefined) return undefined;
  const type = headers['content-type'];
  if (type === undefined || !PLAIN_JSON_TYPES.has(type.toLowerCase())) return undefined;
  const length = headers['content-length'];
  if (length === undefined || !/^[1-9][0-9]{0,9}$/.test(length)) return undefined;
  const bytes = Number(length);
  return bytes <= limitBytes ? bytes : undefined;
}

export interface JsonBody {
  raw: Buffer;
  value: unknown;
}

/**
 * An error as body-parser raises it: the exception filter answers by its
 * `type` (INVALID_JSON for `entity.parse.failed`), exactly as for the
 * Express path.
 */
export class BodyReadError extends Error {
  constructor(
    readonly type: 'entity.parse.failed' | 'request.aborted',
    message: string,
  ) {
    super(message);
    this.name = 'BodyReadError';
  }
}

// body-parser's json({ strict: true }): only an object or array may come first.
const FIRST_CHAR = /^[\x20\x09\x0a\x0d]*([^\x20\x09\x0a\x0d])/;

/**
 * Reads the whole body (Node's parser delivers exactly Content-Length bytes,
 * or the request ends early and this rejects) and parses it.
 */
export function readJsonBody(req: IncomingMessage, length: number): Promise<JsonBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      if (received !== length) {
        reject(new BodyReadError('request.aborted', 'request body ended early'));
        return;
      }
      const raw = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received);
      try {
        resolve({ raw, value: parseJson(raw) });
      } catch (error) {
        reject(error);
      }
    };
    const onAbort = () => {
      cleanup();
      reject(new BodyReadError('request.aborted', 'request aborted'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onAbort);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('close', onAbort);
  });
}

/** UTF-8 with a leading byte order mark dropped (as iconv-lite decodes for body-parser), strict JSON, as body-parser 2.4 parses it. */
export function parseJson(raw: Buffer): unknown {
  let text = raw.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  // body-parser's special case for an empty body (here: a lone byte order mark).
  if (text.length === 0) return {};
  const first = FIRST_CHAR.exec(text)?.[1];
  if (first !== '{' && first !== '[') throw new BodyReadError('entity.parse.failed', 'request body is not a JSON object or array');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BodyReadError('entity.parse.failed', 'request body is not valid JSON');
  }
}
