import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { checkContentDigest, receivedContentOf } from './content-digest';

const BODY = Buffer.from('{"hello":"world"}');

function digest(algorithm: 'sha256' | 'sha512', body: Buffer = BODY): string {
  return createHash(algorithm).update(body).digest('base64');
}

const sha256 = (body?: Buffer) => `sha-256=:${digest('sha256', body)}:`;
const sha512 = (body?: Buffer) => `sha-512=:${digest('sha512', body)}:`;
const refused = expect.objectContaining({ code: 'INVALID_CONTENT_DIGEST', status: 401 });

describe(checkContentDigest.name, () => {
  const sut = checkContentDigest;

  describe('accepts', () => {
    it.each([
      ['a sha-256 digest of the exact body', sha256()],
      ['a sha-512 digest of the exact body', sha512()],
      ['both algorithms, both matching', `${sha256()}, ${sha512()}`],
      // RFC 9530 section 2: unknown algorithms are ignored by the recipient.
      ['an unknown algorithm next to a matching one', `unixsum=:AAAA:, ${sha256()}`],
    ])('%s', (_name, header) => {
      expect(() => sut(header, BODY)).not.toThrow();
    });

    it('the digest of the empty body when no body was received', () => {
      expect(() => sut(sha256(Buffer.alloc(0)), Buffer.alloc(0))).not.toThrow();
    });

    // RFC 9530 section 2's sha-512 example, over {"hello": "world"} and a line feed.
    it('the RFC 9530 example digest', () => {
      const body = Buffer.from('{"hello": "world"}\n');
      const header = 'sha-512=:YMAam51Jz/jOATT6/zvHrLVgOYTGFy1d6GJiOHTohq4yP+pgk4vf2aCsyRZOtw8MjkM7iw7yZ/WkppmM44T3qg==:';
      expect(() => sut(header, body)).not.toThrow();
    });
  });

  describe('refuses with INVALID_CONTENT_DIGEST', () => {
    it.each([
      ['no header', undefined],
      ['an empty header', ''],
      ['an unparsable header', 'sha-256=:not base64'],
      ['a digest that is not a byte sequence', `sha-256="${digest('sha256')}"`],
      ['a digest that is a token', 'sha-256=abc'],
      ['a digest of another body', sha256(Buffer.from('{"hello":"mallory"}'))],
      ['a truncated digest', `sha-256=:${createHash('sha256').update(BODY).digest().subarray(0, 16).toString('base64')}:`],
      ['one matching and one wrong algorithm', `${sha256()}, ${sha512(Buffer.from('other'))}`],
      ['only unsupported algorithms', 'md5=:AAAAAAAAAAAAAAAAAAAAAA==:, unixsum=:AAAA:'],
      ['an over-long header', `${sha256()}, ${'x'.repeat(1100)}=:AAAA:`],
    ])('%s', (_name, header) => {
      expect(() => sut(header, BODY)).toThrow(refused);
    });

    it('a digest of the body when none was received', () => {
      expect(() => sut(sha256(), Buffer.alloc(0))).toThrow(refused);
    });
  });
});

describe(receivedContentOf.name, () => {
  const sut = receivedContentOf;
  const req = (headers: Record<string, string>, rawBody?: Buffer) =>
    ({ headers, rawBody }) as unknown as IncomingMessage & { rawBody?: Buffer };
  const notRead = expect.objectContaining({
    code: 'INVALID_CONTENT_DIGEST',
    status: 401,
    detail: { reason: 'body_not_read' },
  });

  it('gives the raw body the parser kept', () => {
    expect(sut(req({ 'content-length': String(BODY.length) }, BODY))).toBe(BODY);
  });

  it.each([
    ['no body headers at all', {}],
    ['Content-Length: 0', { 'content-length': '0' }],
  ])('gives no bytes for a request without a body (%s)', (_name, headers) => {
    expect(sut(req(headers))).toEqual(Buffer.alloc(0));
  });

  // Unknown bytes are never taken for an empty body (a text/plain or
  // octet-stream body no parser read, or an app without rawBody: true).
  it.each([
    ['a Content-Length', { 'content-length': '8' }],
    ['Transfer-Encoding: chunked', { 'transfer-encoding': 'chunked' }],
    ['a malformed Content-Length', { 'content-length': 'x' }],
  ])('refuses a body that was not read (%s)', (_name, headers) => {
    expect(() => sut(req(headers))).toThrow(notRead);
  });

  it('refuses a body the parser kept only decoded (Content-Encoding)', () => {
    expect(() => sut(req({ 'content-length': '20', 'content-encoding': 'gzip' }, BODY))).toThrow(
      expect.objectContaining({ code: 'INVALID_CONTENT_DIGEST', detail: { reason: 'body_decoded' } }),
    );
  });

  it('accepts Content-Encoding: identity', () => {
    expect(sut(req({ 'content-encoding': 'identity' }, BODY))).toBe(BODY);
  });
});
