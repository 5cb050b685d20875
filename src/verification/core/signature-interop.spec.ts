import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { primitives } from 'vestauth';
import { signatureHeaders } from 'web-bot-auth';
import { signerFromJWK } from 'web-bot-auth/crypto';
import { agentUidFromHost } from './agent-host';
import { importPublicJwk, jwkThumbprint } from './jwk';
import { coversSignatureAgent, parseSignatureAgent } from './signature-agent';
import { buildSignatureBase, type RequestView } from './signature-base';
import { verifySignatureBytes } from './signature-crypto';
import { parseSignatureHeaders, type ParsedSignature } from './signature-headers';
import { checkSignatureParams, DEFAULT_SIGNATURE_POLICY } from './signature-policy';

const AUTHORITY_ORIGIN = 'http://localhost:3000';

type SignedHeaders = { readonly Signature: string; readonly 'Signature-Input': string };
type VestauthHeaders = SignedHeaders & { readonly 'Signature-Agent': string };

function getRequest(target: string, fields: Record<string, string>, method = 'GET'): RequestView {
  const url = new URL(target);
  const lowercased = new Map(
    Object.entries(fields).map(([name, value]) => [name.toLowerCase(), [value]]),
  );
  return {
    method,
    scheme: url.protocol === 'https:' ? 'https' : 'http',
    authority: url.host,
    path: url.pathname,
    query: url.search,
    header: (name) => lowercased.get(name),
  };
}

/** What the guard will do, minus key lookup and replay: parse, check, build, verify. */
function verifyWithCore(
  headers: SignedHeaders,
  request: RequestView,
  publicJwk: Readonly<Record<string, unknown>>,
  { requiredTag }: { requiredTag?: string } = { requiredTag: 'web-bot-auth' },
): { parsed: ParsedSignature; verified: boolean } {
  const parsed = parseSignatureHeaders(headers['Signature-Input'], headers.Signature, { requiredTag });
  const now = parsed.params.created ?? 0;
  checkSignatureParams(parsed.params, { ...DEFAULT_SIGNATURE_POLICY, requiredTag }, now);
  const base = buildSignatureBase(parsed, request);
  const key = importPublicJwk(publicJwk);
  const verified = verifySignatureBytes(parsed.params.alg ?? '', key, base, parsed.signature);
  return { parsed, verified };
}

function agentUid(): string {
  return `agent-${randomBytes(12).toString('hex')}`;
}

describe('interoperability with vestauth 0.21.1', () => {
  const previousHostname = process.env.AGENT_HOSTNAME;
  const { publicJwk, privateJwk } = primitives.keypair();
  const uid = agentUid();

  // vestauth reads the authority for Signature-Agent from AGENT_HOSTNAME;
  // setting it keeps the test away from any .env file.
  beforeAll(() => {
    process.env.AGENT_HOSTNAME = AUTHORITY_ORIGIN;
  });

  afterAll(() => {
    if (previousHostname === undefined) {
      delete process.env.AGENT_HOSTNAME;
    } else {
      process.env.AGENT_HOSTNAME = previousHostname;
    }
  });

  async function vestauthHeaders(uri: string, tag = 'web-bot-auth'): Promise<VestauthHeaders> {
    const headers = await primitives.headers('GET', uri, uid, JSON.stringify(privateJwk), tag);
    return { ...headers };
  }

  it('names keys by the same thumbprint', () => {
    expect(jwkThumbprint(publicJwk)).toBe(publicJwk.kid);
  });

  it('verifies a signed request to an agent route', async () => {
    const headers = await vestauthHeaders(`${AUTHORITY_ORIGIN}/whoami`);

    const request = getRequest(`${AUTHORITY_ORIGIN}/whoami`, headers);
    const { parsed, verified } = verifyWithCore(headers, request, publicJwk);

    expect(verified).toBe(true);
    expect(parsed.params).toMatchObject({ keyid: publicJwk.kid, alg: 'ed25519', tag: 'web-bot-auth' });
    expect(parsed.signatureParams).toBe(headers['Signature-Input'].slice('sig1='.length));
  });

  it('sends a Signature-Agent that resolves to the agent host', async () => {
    const headers = await vestauthHeaders(`${AUTHORITY_ORIGIN}/whoami`);
    const request = getRequest(`${AUTHORITY_ORIGIN}/whoami`, headers);
    const { parsed } = verifyWithCore(headers, request, publicJwk);

    const agent = parseSignatureAgent(headers['Signature-Agent'], parsed);

    expect(agent.authority).toBe(`${uid}.localhost:3000`);
    expect(agentUidFromHost(agent.authority, 'localhost:3000')).toBe(uid);
    expect(coversSignatureAgent(parsed, agent)).toBe(false);
  });

  it('does not verify for another authority', async () => {
    const headers = await vestauthHeaders(`${AUTHORITY_ORIGIN}/whoami`);

    const request = getRequest('http://localhost:3001/whoami', headers);
    const { verified } = verifyWithCore(headers, request, publicJwk);

    expect(verified).toBe(false);
  });

  it('verifies the registration signature (tag="null") when no tag is required', async () => {
    const headers = await vestauthHeaders(`${AUTHORITY_ORIGIN}/register`, 'null');

    const { parsed, verified } = verifyWithCore(
      headers,
      getRequest(`${AUTHORITY_ORIGIN}/register`, {}),
      publicJwk,
      {},
    );

    expect(verified).toBe(true);
    expect(parsed.params.tag).toBe('null');
  });

  it('refuses the registration signature where web-bot-auth is required', async () => {
    const headers = await vestauthHeaders(`${AUTHORITY_ORIGIN}/register`, 'null');

    expect(() => verifyWithCore(headers, getRequest(`${AUTHORITY_ORIGIN}/register`, {}), publicJwk)).toThrow(
      expect.objectContaining({ code: 'WRONG_TAG' }),
    );
  });
});

describe('interoperability with web-bot-auth 0.1.3', () => {
  const target = 'https://api.example.com:8443/v1/items?limit=5&sort=asc';
  type Signer = Parameters<typeof signatureHeaders>[1];
  type Component = NonNullable<Parameters<typeof signatureHeaders>[2]['components']>[number];

  /** Signs a request to `target` and returns its fields plus the signature headers. */
  async function signWebBotAuth(
    signer: Signer,
    fields: Record<string, string> = {},
    options: { method?: string; components?: Component[] } = {},
  ): Promise<SignedHeaders & Record<string, string>> {
    const created = new Date();
    const expires = new Date(created.getTime() + 300_000);
    const message = { method: options.method ?? 'GET', url: target, headers: fields };
    const signed = await signatureHeaders(message, signer, {
      created,
      expires,
      components: options.components,
    });
    return { ...fields, ...signed };
  }

  async function ed25519Signer(): Promise<{ signer: Signer; publicJwk: Record<string, unknown> }> {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const publicJwk = { ...publicKey.export({ format: 'jwk' }) };
    const privateJwk = { ...privateKey.export({ format: 'jwk' }), kid: jwkThumbprint(publicJwk) };
    return { signer: await signerFromJWK(privateJwk), publicJwk };
  }

  it('verifies the default components with a Signature-Agent dictionary', async () => {
    const { signer, publicJwk } = await ed25519Signer();
    const headers = await signWebBotAuth(signer, {
      'Signature-Agent': 'sig1="https://agent.example.net"',
    });

    const { parsed, verified } = verifyWithCore(headers, getRequest(target, headers), publicJwk);
    const agent = parseSignatureAgent(headers['Signature-Agent'], parsed);

    expect(verified).toBe(true);
    expect(parsed.components.map((c) => c.serialized)).toEqual([
      '"@authority"',
      '"signature-agent"',
    ]);
    expect(parsed.params.keyid).toBe(jwkThumbprint(publicJwk));
    expect(agent).toMatchObject({ origin: 'https://agent.example.net', memberKey: 'sig1' });
    expect(coversSignatureAgent(parsed, agent)).toBe(true);
  });

  it('verifies a legacy bare Signature-Agent', async () => {
    const { signer, publicJwk } = await ed25519Signer();
    const headers = await signWebBotAuth(signer, { 'Signature-Agent': '"https://agent.example.net"' });

    const { parsed, verified } = verifyWithCore(headers, getRequest(target, headers), publicJwk);
    const agent = parseSignatureAgent(headers['Signature-Agent'], parsed);

    expect(verified).toBe(true);
    expect(coversSignatureAgent(parsed, agent)).toBe(true);
  });

  it('verifies every derived request component it can sign', async () => {
    const { signer, publicJwk } = await ed25519Signer();
    const components = [
      '@method',
      '@target-uri',
      '@authority',
      '@scheme',
      '@request-target',
      '@path',
      '@query',
      'content-type',
      'signature-agent',
    ];
    const fields = {
      'Signature-Agent': 'sig1="https://agent.example.net"',
      'Content-Type': 'application/json',
    };
    const headers = await signWebBotAuth(signer, fields, { method: 'POST', components });

    const request = getRequest(target, headers, 'POST');
    const { parsed, verified } = verifyWithCore(headers, request, publicJwk);

    expect(parsed.components.map((c) => c.name)).toEqual(components);
    expect(verified).toBe(true);
  });

  it('verifies RSA-PSS-SHA512', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicJwk = { ...rsa.publicKey.export({ format: 'jwk' }) };
    const privateJwk = { ...rsa.privateKey.export({ format: 'jwk' }), alg: 'PS512', kid: 'k' };
    const headers = await signWebBotAuth(await signerFromJWK(privateJwk));

    const { parsed, verified } = verifyWithCore(headers, getRequest(target, {}), publicJwk);

    expect(parsed.params.alg).toBe('rsa-pss-sha512');
    expect(verified).toBe(true);
  });

  it('verifies ECDSA-P256-SHA256 from a custom signer', async () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const publicJwk = { ...p256.publicKey.export({ format: 'jwk' }) };
    const signingKey = { key: p256.privateKey, dsaEncoding: 'ieee-p1363' as const };
    const signer: Signer = {
      alg: 'ecdsa-p256-sha256',
      keyid: jwkThumbprint(publicJwk),
      sign: (data: string) => new Uint8Array(sign('sha256', Buffer.from(data), signingKey)),
    };
    const headers = await signWebBotAuth(signer);

    const { parsed, verified } = verifyWithCore(headers, getRequest(target, {}), publicJwk);

    expect(parsed.params.alg).toBe('ecdsa-p256-sha256');
    expect(verified).toBe(true);
  });

  // http-message-sig 0.2.0 (under web-bot-auth 0.1.3) signs the whole field
  // for `"signature-agent";key=...` instead of the member RFC 9421 section
  // 2.1.2 requires. We follow the RFC, as the draft's v2 vectors do, so such
  // a signature does not verify; this test flags it if the library changes.
  it('does not verify the whole-field base http-message-sig 0.2.0 signs for key=', async () => {
    const { signer, publicJwk } = await ed25519Signer();
    const keyed = { name: 'signature-agent', parameters: new Map([['key', 'agent2']]) };
    const fields = { 'Signature-Agent': 'agent2="https://agent.example.net"' };
    const headers = await signWebBotAuth(signer, fields, { components: ['@authority', keyed] });

    const { parsed, verified } = verifyWithCore(headers, getRequest(target, headers), publicJwk);

    expect(parsed.components[1].serialized).toBe('"signature-agent";key="agent2"');
    expect(verified).toBe(false);
  });
});
