import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasPrivateMaterial, importPublicJwk, jwkThumbprint, toPublicJwk } from './jwk';
import { coversSignatureAgent, parseSignatureAgent } from './signature-agent';
import { buildSignatureBase, type RequestView } from './signature-base';
import { verifySignatureBytes } from './signature-crypto';
import { parseSignatureHeaders } from './signature-headers';
import { checkSignatureParams, DEFAULT_SIGNATURE_POLICY } from './signature-policy';

/** One entry of the web-bot-auth architecture draft's vectors (test/vectors/README.md). */
interface VectorEntry {
  readonly key: Readonly<Record<string, string>>;
  readonly target_url: string;
  readonly created_ms: number;
  readonly expires_ms: number;
  readonly nonce: string;
  readonly label: string;
  readonly signature: string;
  readonly signature_input: string;
  readonly signature_agent?: string;
  readonly signature_agent_key?: string;
}

const VECTOR_FILES = ['web_bot_auth_architecture_v1.json', 'web_bot_auth_architecture_v2.json'];

function loadVectors(file: string): VectorEntry[] {
  const path = join(__dirname, '..', '..', '..', 'test', 'vectors', file);
  const entries: VectorEntry[] = JSON.parse(readFileSync(path, 'utf8'));
  return entries;
}

function getRequest(target: string, fields: Record<string, string>): RequestView {
  const url = new URL(target);
  return {
    method: 'GET',
    scheme: url.protocol === 'https:' ? 'https' : 'http',
    authority: url.host,
    path: url.pathname,
    query: url.search,
    header: (name) => (name in fields ? [fields[name]] : undefined),
  };
}

function flipLastByte(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  copy[copy.length - 1] ^= 1;
  return copy;
}

const cases = VECTOR_FILES.flatMap((file) =>
  loadVectors(file).map((entry) => [`${file} ${entry.label} ${entry.key.kty}`, entry] as const),
);

describe('web-bot-auth architecture vectors', () => {
  it('covers both files, four entries each', () => {
    expect(cases).toHaveLength(8);
  });

  describe.each(cases)('%s', (_, entry) => {
    const fields: Record<string, string> =
      entry.signature_agent === undefined ? {} : { 'signature-agent': entry.signature_agent };
    const parsed = parseSignatureHeaders(entry.signature_input, entry.signature, {
      requiredTag: 'web-bot-auth',
    });
    const base = buildSignatureBase(parsed, getRequest(entry.target_url, fields));
    const publicJwk = toPublicJwk(entry.key);
    const key = importPublicJwk(publicJwk);
    const alg = parsed.params.alg ?? '';

    it('uses only the public part of the key', () => {
      expect(hasPrivateMaterial(entry.key)).toBe(true);
      expect(hasPrivateMaterial(publicJwk)).toBe(false);
    });

    it('names the key by its RFC 7638 thumbprint', () => {
      expect(parsed.params.keyid).toBe(jwkThumbprint(publicJwk));
    });

    it('rebuilds @signature-params byte for byte', () => {
      expect(parsed.signatureParams).toBe(entry.signature_input.slice(entry.label.length + 1));
    });

    it('verifies', () => {
      expect(verifySignatureBytes(alg, key, base, parsed.signature)).toBe(true);
    });

    it('fails when one byte of the base changes', () => {
      const changed = base.replace('example.com', 'example.con');

      expect(changed).not.toBe(base);
      expect(verifySignatureBytes(alg, key, changed, parsed.signature)).toBe(false);
    });

    it('fails when one byte of the signature changes', () => {
      expect(verifySignatureBytes(alg, key, base, flipLastByte(parsed.signature))).toBe(false);
    });

    it('passes a policy whose lifetime fits, at a clock inside the window', () => {
      const now = entry.created_ms / 1000 + 60;
      const lifetime = (entry.expires_ms - entry.created_ms) / 1000;
      const policy = { ...DEFAULT_SIGNATURE_POLICY, maxLifetimeSeconds: lifetime };

      expect(() => checkSignatureParams(parsed.params, policy, now)).not.toThrow();
    });

    it('is too long-lived for the default policy', () => {
      const now = entry.created_ms / 1000 + 60;

      expect(() => checkSignatureParams(parsed.params, DEFAULT_SIGNATURE_POLICY, now)).toThrow(
        expect.objectContaining({ code: 'SIGNATURE_TOO_LONG_LIVED' }),
      );
    });

    if (entry.signature_agent !== undefined) {
      it('resolves and covers the Signature-Agent', () => {
        const agent = parseSignatureAgent(entry.signature_agent, parsed);

        expect(agent.origin).toBe('https://signature-agent.test');
        expect(agent.memberKey).toBe(entry.signature_agent_key);
        expect(coversSignatureAgent(parsed, agent)).toBe(true);
      });
    }
  });
});

describe('RFC 9421 appendix B.2.6 (Ed25519)', () => {
  const publicJwk = { kty: 'OKP', crv: 'Ed25519', x: 'JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs' };
  const signatureInput =
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")' +
    ';created=1618884473;keyid="test-key-ed25519"';
  const signature =
    'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:';
  const request: RequestView = {
    ...getRequest('https://example.com/foo?param=Value&Pet=dog', {}),
    method: 'POST',
    header: (name) =>
      ({
        date: ['Tue, 20 Apr 2021 02:07:55 GMT'],
        'content-type': ['application/json'],
        'content-length': ['18'],
      })[name],
  };

  it('builds the published base and verifies', () => {
    const parsed = parseSignatureHeaders(signatureInput, signature, {});
    const base = buildSignatureBase(parsed, request);

    expect(base).toBe(
      [
        '"date": Tue, 20 Apr 2021 02:07:55 GMT',
        '"@method": POST',
        '"@path": /foo',
        '"@authority": example.com',
        '"content-type": application/json',
        '"content-length": 18',
        `"@signature-params": ${signatureInput.slice('sig-b26='.length)}`,
      ].join('\n'),
    );
    expect(verifySignatureBytes('ed25519', importPublicJwk(publicJwk), base, parsed.signature)).toBe(true);
  });
});
