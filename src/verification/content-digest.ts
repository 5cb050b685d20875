import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parseDictionary } from 'structured-headers';
import { fail } from '../common/errors/domain-error';

// A Map, not an object literal: a member named `constructor` must not find
// Object.prototype's (it reached createHash and answered 500).
const ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ['sha-256', 'sha256'],
  ['sha-512', 'sha512'],
]);

const NO_BODY = Buffer.alloc(0);

/**
 * The exact bytes of the request's content (RFC 9530 section 2), for a
 * covered Content-Digest: `rawBody` as kept by the JSON body parser (an app
 * created with `rawBody: true`) or by the hot route, or no bytes when the
 * request has no body. A body this service did not keep (a media type no
 * parser read, an app without `rawBody`) or kept only decoded (a
 * Content-Encoding the parser inflated) is unknown, never empty: the digest
 * cannot be checked and the request is refused.
 */
export function receivedContentOf(req: IncomingMessage & { rawBody?: Buffer }): Buffer {
  const headers = req.headers;
  const raw = req.rawBody;
  if (raw === undefined) {
    if (!hasBody(headers)) return NO_BODY;
    fail('INVALID_CONTENT_DIGEST', 'content digest cannot be checked: the request body was not read', {
      reason: 'body_not_read',
    });
  }
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
    fail('INVALID_CONTENT_DIGEST', 'content digest cannot be checked: the request body was decoded', {
      reason: 'body_decoded',
    });
  }
  return raw;
}

// RFC 9112 section 6.3: a request has a body when it has Transfer-Encoding or
// a Content-Length other than 0 (Node refuses a malformed Content-Length).
function hasBody(headers: IncomingMessage['headers']): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && Number(length) !== 0);
}

/**
 * RFC 9530 Content-Digest check against the exact bytes received (see
 * receivedContentOf). Every supported digest listed must match, and at
 * least one must be supported.
 */
export function checkContentDigest(header: string | undefined, body: Buffer): void {
  if (!header) fail('INVALID_CONTENT_DIGEST', 'missing content digest');
  if (header.length > 1024) fail('INVALID_CONTENT_DIGEST', 'invalid content digest');
  let dictionary: ReturnType<typeof parseDictionary>;
  try {
    dictionary = parseDictionary(header);
  } catch {
    fail('INVALID_CONTENT_DIGEST', 'invalid content digest');
  }
  let checked = 0;
  for (const [name, member] of dictionary) {
    const algorithm = ALGORITHMS.get(name);
    if (!algorithm) continue;
    const value = member[0];
    if (!(value instanceof ArrayBuffer)) fail('INVALID_CONTENT_DIGEST', 'invalid content digest');
    const expected = createHash(algorithm).update(body).digest();
    const given = Buffer.from(value);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      fail('INVALID_CONTENT_DIGEST', 'content digest does not match the body');
    }
    checked++;
  }
  if (checked === 0) fail('INVALID_CONTENT_DIGEST', 'no supported content digest algorithm');
}
