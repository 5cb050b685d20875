import { createHash, timingSafeEqual } from 'node:crypto';
import { parseDictionary } from 'structured-headers';
import { fail } from '../common/errors/domain-error';

// A Map, not an object literal: a member named `constructor` must not find
// Object.prototype's (it reached createHash and answered 500).
const ALGORITHMS: ReadonlyMap<string, string> = new Map([
  ['sha-256', 'sha256'],
  ['sha-512', 'sha512'],
]);

/**
 * RFC 9530 Content-Digest check against the exact bytes received. Every
 * supported digest listed must match, and at least one must be supported.
 */
export function checkContentDigest(header: string | undefined, body: Buffer | undefined): void {
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
    const expected = createHash(algorithm).update(body ?? Buffer.alloc(0)).digest();
    const given = Buffer.from(value);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      fail('INVALID_CONTENT_DIGEST', 'content digest does not match the body');
    }
    checked++;
  }
  if (checked === 0) fail('INVALID_CONTENT_DIGEST', 'no supported content digest algorithm');
}
