import { constants, createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { Server } from 'node:net';
import request from 'supertest';
import type { Response } from 'supertest';
import { signatureHeaders as webBotAuthHeaders } from 'web-bot-auth';
import { signerFromJWK } from 'web-bot-auth/crypto';
import { agentHeaders, agentKeyPair, registerAgent, signatureHeaders } from './factories/agent.factory';
import type { AgentKeyPair, RegisteredAgent } from './factories/agent.factory';
import { KeyResolver } from '../src/verification/key-resolver';
import { RemoteKeyResolver } from '../src/verification/remote-key-resolver';
import { startTestApp, TestApp } from './support/test-app';

const WELL_KNOWN = '/.well-known/http-message-signatures-directory';

interface AuditRow {
  event: string;
  outcome: string;
  error_code: string | null;
  agent_uid: string | null;
  kid: string | null;
  method: string | null;
  path: string | null;
  authority: string | null;
  ip: string | null;
  request_id: string | null;
  detail: Record<string, unknown>;
}

/** A TCP listener that only counts who connects: any connection is a fetch that must not happen. */
interface Canary {
  port: number;
  readonly connections: number;
  close(): Promise<void>;
}

/** A foreign authority's agent host, serving one key directory for any Host. */
interface DirectoryServer {
  port: number;
  readonly connections: number;
  /** `<Host> <path>` of each request received. */
  readonly requests: readonly string[];
  close(): Promise<void>;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const randomUid = (): string => `agent-${randomBytes(12).toString('hex')}`;

function listenOnLoopback(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

async function startCanary(): Promise<Canary> {
  let connections = 0;
  const server = createTcpServer((socket) => {
    connections++;
    socket.destroy();
  });
  const port = await listenOnLoopback(server);
  return {
    port,
    get connections() {
      return connections;
    },
    close: () => closeServer(server),
  };
}

async function startDirectoryServer(keys: ReadonlyArray<Record<string, unknown>>): Promise<DirectoryServer> {
  let connections = 0;
  const requests: string[] = [];
  const server = createHttpServer((req, res) => {
    requests.push(`${req.headers.host} ${req.url}`);
    if (req.url !== WELL_KNOWN) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/http-message-signatures-directory+json' });
    res.end(JSON.stringify({ keys }));
  });
  server.on('connection', () => connections++);
  const port = await listenOnLoopback(server);
  return {
    port,
    get connections() {
      return connections;
    },
    requests,
    close: () => {
      server.closeAllConnections();
      return closeServer(server);
    },
  };
}

/**
 * Signs an arbitrary list of covered components, as vestauth would format
 * them. The factory always covers @authority first; the component checks
 * need signatures that do not.
 */
function signComponents(key: AgentKeyPair, agentUrl: string, lines: ReadonlyArray<[identifier: string, value: string]>): Record<string, string> {
  const created = nowSeconds();
  const nonce = randomBytes(64).toString('base64url');
  const params = `(${lines.map(([id]) => id).join(' ')});created=${created};keyid="${key.kid}";alg="ed25519";expires=${created + 300};nonce="${nonce}";tag="web-bot-auth"`;
  const base = [...lines.map(([id, value]) => `${id}: ${value}`), `"@signature-params": ${params}`].join('\n');
  return {
    Signature: `sig1=:${sign(null, Buffer.from(base), key.privateKey).toString('base64')}:`,
    'Signature-Input': `sig1=${params}`,
    'Signature-Agent': `sig1="${agentUrl}"`,
  };
}

/**
 * Signs `signedParams` as the @signature-params line and sends `sentParams`
 * (default: the same) in Signature-Input, with a Signature-Agent given as is.
 */
function signParams(
  key: AgentKeyPair,
  signatureAgent: string,
  lines: ReadonlyArray<[identifier: string, value: string]>,
  sentParams: string,
  signedParams = sentParams,
): Record<string, string> {
  const base = [...lines.map(([id, value]) => `${id}: ${value}`), `"@signature-params": ${signedParams}`].join('\n');
  return {
    Signature: `sig1=:${sign(null, Buffer.from(base), key.privateKey).toString('base64')}:`,
    'Signature-Input': `sig1=${sentParams}`,
    'Signature-Agent': signatureAgent,
  };
}

const sha512 = (data: Buffer): Buffer => createHash('sha512').update(data).digest();

/**
 * RFC 8017 section 9.1.1 EMSA-PSS-ENCODE (SHA-512, MGF1 SHA-512, 64-byte
 * salt) of `message`, padded to the modulus length: with e = 1 this is an
 * rsa-pss-sha512 signature, made without any private key.
 */
function pssEncodeSha512(message: Buffer, modBits: number): Buffer {
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const salt = randomBytes(64);
  const h = sha512(Buffer.concat([Buffer.alloc(8), sha512(message), salt]));
  const db = Buffer.concat([Buffer.alloc(emLen - 64 - 64 - 2), Buffer.from([1]), salt]);
  const maskParts: Buffer[] = [];
  for (let counter = 0; maskParts.length * 64 < db.length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    maskParts.push(sha512(Buffer.concat([h, c])));
  }
  const mask = Buffer.concat(maskParts);
  for (let i = 0; i < db.length; i++) db[i] ^= mask[i];
  db[0] &= 0xff >> (8 * emLen - emBits);
  const em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  return Buffer.concat([Buffer.alloc(Math.ceil(modBits / 8) - em.length), em]);
}

/** vestauth-like headers over @authority with any algorithm and signer. */
function signedWith(kid: string, alg: string, authority: string, agentUrl: string, signer: (base: Buffer) => Buffer): Record<string, string> {
  const created = nowSeconds();
  const params = `("@authority");created=${created};keyid="${kid}";alg="${alg}";expires=${created + 300};nonce="${randomBytes(64).toString('base64url')}";tag="web-bot-auth"`;
  const base = Buffer.from(`"@authority": ${authority}\n"@signature-params": ${params}`);
  return {
    Signature: `sig1=:${signer(base).toString('base64')}:`,
    'Signature-Input': `sig1=${params}`,
    'Signature-Agent': `sig1="${agentUrl}"`,
  };
}

function rsaThumbprint(jwk: { e: string; n: string }): string {
  return createHash('sha256').update(`{"e":"${jwk.e}","kty":"RSA","n":"${jwk.n}"}`).digest('base64url');
}

/** vestauth's parameters over @authority; `created` and `expires` as given (text, to send Decimals). */
function vestauthParams(key: AgentKeyPair, o: { created?: string; expires?: string; extra?: string } = {}): string {
  const created = nowSeconds();
  const nonce = randomBytes(64).toString('base64url');
  return `("@authority");created=${o.created ?? created};keyid="${key.kid}";alg="ed25519";expires=${o.expires ?? created + 300};nonce="${nonce}";tag="web-bot-auth"${o.extra ?? ''}`;
}

/** The same headers with one bit of the signature bytes flipped. */
function tamperSignature(headers: Record<string, string>): Record<string, string> {
  const match = /^(sig1=:)(.*)(:)$/.exec(headers.Signature);
  if (!match) throw new Error(`unexpected Signature header ${headers.Signature}`);
  const bytes = Buffer.from(match[2], 'base64');
  bytes[10] ^= 0x01;
  return { ...headers, Signature: `${match[1]}${bytes.toString('base64')}${match[3]}` };
}

function without(headers: Record<string, string>, name: string): Record<string, string> {
  const copy = { ...headers };
  delete copy[name];
  return copy;
}

/** RFC 9530 Content-Digest with sha-256. */
function contentDigest(body: string): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

function auditRowsOf(t: TestApp, res: Response): Promise<AuditRow[]> {
  return t.dataSource.query(
    `SELECT event, outcome, error_code, agent_uid, kid, method, path, authority, ip, request_id, detail
       FROM audit_events WHERE request_id = $1 ORDER BY id`,
    [res.headers['x-request-id']],
  );
}

/** DESIGN's error body with the code's status, and the one failed-verify audit row the request left. */
async function expectRefused(t: TestApp, res: Response, status: number, code: string, agentUid: string | null): Promise<AuditRow> {
  expect({ status: res.status, body: res.body }).toEqual({
    status,
    body: { error: { status, code, message: expect.any(String) } },
  });
  const rows = await auditRowsOf(t, res);
  expect(rows).toEqual([
    expect.objectContaining({ event: 'verify', outcome: 'failure', error_code: code, agent_uid: agentUid, path: '/whoami' }),
  ]);
  return rows[0];
}

describe('Verification (e2e)', () => {
  let canary: Canary;

  beforeAll(async () => {
    canary = await startCanary();
  });

  afterAll(async () => {
    await canary?.close();
  });

  describe('with the default configuration', () => {
    let t: TestApp;
    let authority: string;
    let agent: RegisteredAgent;
    const http = () => request(t.url);

    beforeAll(async () => {
      t = await startTestApp();
      authority = `localhost:${t.port}`;
      agent = await registerAgent(t.url, authority);
    });

    afterAll(async () => {
      await t?.close();
    });

    describe('a valid signature', () => {
      it.each(['GET', 'POST'])('%s /whoami answers exactly the vestauth shape, audited before the response', async (method) => {
        const pending = method === 'GET' ? http().get('/whoami') : http().post('/whoami').send({ hello: 'world' });
        const res = await pending.set(agentHeaders(agent, authority)).expect(200);

        expect(res.body).toEqual({
          uid: agent.uid,
          kid: agent.kid,
          public_jwk: agent.publicJwk,
          well_known_url: `http://${agent.uid}.localhost:${t.port}${WELL_KNOWN}`,
        });
        // Read at once, no polling: the row must be committed before the response is sent.
        expect(await auditRowsOf(t, res)).toEqual([
          {
            event: 'verify',
            outcome: 'success',
            error_code: null,
            agent_uid: agent.uid,
            kid: agent.kid,
            method,
            path: '/whoami',
            authority,
            ip: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$/),
            request_id: res.headers['x-request-id'],
            detail: { components: ['@authority'] },
          },
        ]);
      });

      it('also verifies when the signature covers @method, @path and signature-agent', async () => {
        const headers = agentHeaders(agent, authority, { extra: [['@method', 'GET'], ['@path', '/whoami']], coverSignatureAgent: true });
        const res = await http().get('/whoami').set(headers).expect(200);
        expect(res.body.uid).toBe(agent.uid);
        const [row] = await auditRowsOf(t, res);
        expect(row.detail).toEqual({ components: ['@authority', '@method', '@path', 'signature-agent'] });
      });
    });

    describe('each check, hit on its own', () => {
      type Build = (a: RegisteredAgent, authority: string) => Record<string, string>;
      const cases: Array<[name: string, status: number, code: string, build: Build]> = [
        ['no Signature-Input', 401, 'MISSING_SIGNATURE_INPUT', (a, host) => without(agentHeaders(a, host), 'Signature-Input')],
        ['no Signature', 401, 'MISSING_SIGNATURE', (a, host) => without(agentHeaders(a, host), 'Signature')],
        ['a garbage Signature-Input', 401, 'INVALID_SIGNATURE_INPUT', (a, host) => ({ ...agentHeaders(a, host), 'Signature-Input': 'garbage((' })],
        ['tampered signature bytes', 401, 'INVALID_SIGNATURE', (a, host) => tamperSignature(agentHeaders(a, host))],
        ['a signature by another key under this kid', 401, 'INVALID_SIGNATURE', (a, host) => agentHeaders(a, host, { signingKey: agentKeyPair().privateKey })],
        ['an expired signature', 401, 'EXPIRED_SIGNATURE', (a, host) => agentHeaders(a, host, { created: nowSeconds() - 400, expires: nowSeconds() - 100 })],
        ['a signature created in the future', 401, 'SIGNATURE_NOT_YET_VALID', (a, host) => agentHeaders(a, host, { created: nowSeconds() + 120 })],
        ['a signature living an hour', 401, 'SIGNATURE_TOO_LONG_LIVED', (a, host) => agentHeaders(a, host, { created: nowSeconds(), expires: nowSeconds() + 3600 })],
        ['no nonce', 401, 'MISSING_NONCE', (a, host) => agentHeaders(a, host, { nonce: null })],
        ['tag="other"', 401, 'WRONG_TAG', (a, host) => agentHeaders(a, host, { tag: 'other' })],
        ['alg="hmac-sha256"', 401, 'UNSUPPORTED_ALGORITHM', (a, host) => agentHeaders(a, host, { alg: 'hmac-sha256' })],
        ['a signature covering only @method', 401, 'MISSING_COMPONENT', (a) => signComponents(a, a.agentUrl, [['"@method"', 'GET']])],
        ['a covered component the verifier cannot build (@status)', 401, 'UNSUPPORTED_COMPONENT', (a, host) => signComponents(a, a.agentUrl, [['"@authority"', host], ['"@status"', '200']])],
        ['an unregistered kid', 401, 'UNKNOWN_KEY', (a, host) => signatureHeaders(agentKeyPair(), { authority: host, agentUrl: a.agentUrl })],
      ];

      it.each(cases)('%s: %i %s, audited against the named agent', async (_name, status, code, build) => {
        const res = await http().get('/whoami').set(build(agent, authority));
        await expectRefused(t, res, status, code, agent.uid);
      });

      it('a signature made for another host (Host evil.example): 401 WRONG_AUTHORITY', async () => {
        const res = await http().get('/whoami').set('Host', 'evil.example').set(agentHeaders(agent, 'evil.example'));
        const row = await expectRefused(t, res, 401, 'WRONG_AUTHORITY', agent.uid);
        expect(row.authority).toBe('evil.example');
      });

      it('no Signature-Agent: 401 MISSING_SIGNATURE_AGENT, attributed to nobody', async () => {
        const res = await http().get('/whoami').set(agentHeaders(agent, authority, { agentUrl: undefined }));
        const row = await expectRefused(t, res, 401, 'MISSING_SIGNATURE_AGENT', null);
        expect(row.kid).toBe(agent.kid);
      });

      // Unparsable, so attributed only when the value still names an agent host.
      it.each<[string, (a: RegisteredAgent) => string, boolean]>([
        ['an inner list', () => 'sig1=("x")', false],
        ['a URL with a path', (a) => `sig1="${a.agentUrl}/keys"`, true],
        ['a URL with userinfo', (a) => `sig1="http://user@${a.uid}.localhost:${t.port}"`, true],
        ['a URL with a query', (a) => `sig1="${a.agentUrl}?x=1"`, true],
        ['an unsupported discovery type', (a) => `sig1="${a.agentUrl}";type="inline"`, true],
      ])('a malformed Signature-Agent (%s): 401 INVALID_SIGNATURE_AGENT', async (_name, value, namesAgent) => {
        const res = await http().get('/whoami').set({ ...agentHeaders(agent, authority), 'Signature-Agent': value(agent) });
        await expectRefused(t, res, 401, 'INVALID_SIGNATURE_AGENT', namesAgent ? agent.uid : null);
      });

      it('a Signature-Agent outside every trusted domain: 403 UNTRUSTED_SIGNATURE_AGENT', async () => {
        const named = randomUid();
        const res = await http().get('/whoami').set(agentHeaders(agent, authority, { agentUrl: `https://${named}.evil.example` }));
        await expectRefused(t, res, 403, 'UNTRUSTED_SIGNATURE_AGENT', named);
      });
    });

    describe('keys and agents', () => {
      it("a key of agent B under agent A's Signature-Agent is UNKNOWN_KEY, never either identity", async () => {
        const a = await registerAgent(t.url, authority);
        const b = await registerAgent(t.url, authority);
        const res = await http().get('/whoami').set(signatureHeaders(b, { authority, agentUrl: a.agentUrl }));
        const row = await expectRefused(t, res, 401, 'UNKNOWN_KEY', a.uid);
        expect(row.kid).toBe(b.kid);
        expect(res.text).not.toContain(a.uid);
        expect(res.text).not.toContain(b.uid);
      });

      it('a keyid longer than any stored kid (200 characters): 401 UNKNOWN_KEY, still audited', async () => {
        const keyid = 'k'.repeat(200);
        const res = await http().get('/whoami').set(agentHeaders(agent, authority, { keyid }));
        const row = await expectRefused(t, res, 401, 'UNKNOWN_KEY', agent.uid);
        expect(keyid.startsWith(row.kid ?? '')).toBe(true);
      });

      // Audit rows of concurrent requests share one INSERT (group commit):
      // a hostile row that does not fit must not fail the honest ones with it.
      it('over-long keyids sent alongside valid requests leave every request answered and audited', async () => {
        const honest = Array.from({ length: 8 }, () => http().get('/whoami').set(agentHeaders(agent, authority)));
        const hostile = Array.from({ length: 8 }, () => http().get('/whoami').set(agentHeaders(agent, authority, { keyid: 'k'.repeat(200) })));
        const responses = await Promise.all([...honest, ...hostile]);
        expect(responses.map((r) => r.status)).toEqual([...Array(8).fill(200), ...Array(8).fill(401)]);
        const rows = await Promise.all(responses.map((r) => auditRowsOf(t, r)));
        expect(rows.map((r) => r.map((row) => row.outcome))).toEqual([...Array(8).fill(['success']), ...Array(8).fill(['failure'])]);
      });

      it('the key replaced by a rotation: 401 REVOKED_KEY, while the new key verifies', async () => {
        const a = await registerAgent(t.url, authority);
        await http().get('/whoami').set(agentHeaders(a, authority)).expect(200);
        const next = agentKeyPair();
        await http().post('/rotate').set(agentHeaders(a, authority)).send({ public_jwk: next.publicJwk }).expect(200);

        const res = await http().get('/whoami').set(agentHeaders(a, authority));
        const row = await expectRefused(t, res, 401, 'REVOKED_KEY', a.uid);
        expect(row.kid).toBe(a.kid);
        const ok = await http().get('/whoami').set(agentHeaders({ ...a, ...next }, authority)).expect(200);
        expect(ok.body).toMatchObject({ uid: a.uid, kid: next.kid });
      });
    });

    describe('replay', () => {
      it('the same signed request twice: the first succeeds, the second is 401 REPLAYED_NONCE', async () => {
        const headers = agentHeaders(agent, authority);
        const first = await http().get('/whoami').set(headers).expect(200);
        const second = await http().get('/whoami').set(headers);
        const row = await expectRefused(t, second, 401, 'REPLAYED_NONCE', agent.uid);
        expect(row.kid).toBe(agent.kid);
        expect(await auditRowsOf(t, first)).toEqual([expect.objectContaining({ outcome: 'success' })]);
      });

      it('a forged signature does not spend the nonce it carries', async () => {
        const nonce = randomBytes(64).toString('base64url');
        const forged = await http().get('/whoami').set(agentHeaders(agent, authority, { nonce, signingKey: agentKeyPair().privateKey }));
        await expectRefused(t, forged, 401, 'INVALID_SIGNATURE', agent.uid);
        await http().get('/whoami').set(agentHeaders(agent, authority, { nonce })).expect(200);
      });
    });

    describe('server-side request forgery', () => {
      it.each<[string, (port: number) => string, boolean]>([
        ['a loopback address', (port) => `http://127.0.0.1:${port}`, false],
        ['the cloud metadata address', () => 'http://169.254.169.254', false],
        ['an agent-like localhost name on another port', (port) => `http://${randomUid()}.localhost:${port}`, true],
      ])('Signature-Agent naming %s: 403 UNTRUSTED_SIGNATURE_AGENT and no connection', async (_name, url, namesAgent) => {
        const agentUrl = url(canary.port);
        const fetches = (t.app.get(KeyResolver) as RemoteKeyResolver).stats().fetches;
        const res = await http().get('/whoami').set(agentHeaders(agent, authority, { agentUrl }));
        const named = namesAgent ? new URL(agentUrl).hostname.split('.')[0] : null;
        await expectRefused(t, res, 403, 'UNTRUSTED_SIGNATURE_AGENT', named);
        // No connection anywhere: the resolver counts every connection it opens, the canary those to the loopback.
        expect((t.app.get(KeyResolver) as RemoteKeyResolver).stats().fetches).toBe(fetches);
        expect(canary.connections).toBe(0);
      });
    });

    describe('content-digest (RFC 9530)', () => {
      const body = '{"order":42,"note":"signed body"}';

      it('a covered, correct sha-256 digest of the POST body: 200', async () => {
        const headers = agentHeaders(agent, authority, { extra: [['content-digest', contentDigest(body)]] });
        const res = await http()
          .post('/whoami')
          .set(headers)
          .set('Content-Type', 'application/json')
          .set('Content-Digest', contentDigest(body))
          .send(body)
          .expect(200);
        expect(res.body.uid).toBe(agent.uid);
        const [row] = await auditRowsOf(t, res);
        expect(row.detail).toEqual({ components: ['@authority', 'content-digest'] });
      });

      it('a covered digest of another body: 401 INVALID_CONTENT_DIGEST', async () => {
        const other = '{"order":43,"note":"signed body"}';
        const headers = agentHeaders(agent, authority, { extra: [['content-digest', contentDigest(other)]] });
        const res = await http()
          .post('/whoami')
          .set(headers)
          .set('Content-Type', 'application/json')
          .set('Content-Digest', contentDigest(other))
          .send(body);
        await expectRefused(t, res, 401, 'INVALID_CONTENT_DIGEST', agent.uid);
      });
    });

    // A failure on either path: the hot route (GET /whoami) and Express (GET /whoami/).
    async function expectRefusedOnPath(res: Response, path: string, status: number, code: string): Promise<AuditRow> {
      expect({ status: res.status, code: res.body?.error?.code }).toEqual({ status, code });
      const rows = await auditRowsOf(t, res);
      expect(rows).toEqual([expect.objectContaining({ event: 'verify', outcome: 'failure', error_code: code, agent_uid: agent.uid, path })]);
      return rows[0];
    }

    describe('covered fields named like Object.prototype members', () => {
      it.each(['/whoami', '/whoami/'].flatMap((path) => ['constructor', '__proto__'].map((name) => [path, name])))(
        'GET %s covering "%s", not sent: 401 INVALID_SIGNATURE (not a 500), audited',
        async (path, name) => {
          const headers = signComponents(agent, agent.agentUrl, [['"@authority"', authority], [`"${name}"`, '']]);
          const res = await http().get(path).set(headers);
          const row = await expectRefusedOnPath(res, path, 401, 'INVALID_SIGNATURE');
          expect(row.detail).toMatchObject({ reason: 'covered_field_absent', component: `"${name}"` });
        },
      );

      it('a header named constructor that was sent is covered like any other', async () => {
        const headers = signComponents(agent, agent.agentUrl, [['"@authority"', authority], ['"constructor"', 'sent']]);
        await http().get('/whoami').set(headers).set('Constructor', 'sent').expect(200);
      });
    });

    describe('a covered content-digest of a body this service did not read', () => {
      const digestOfEmpty = contentDigest('');

      it.each(['text/plain', 'application/octet-stream'])(
        'a %s body with the digest of "": 401 INVALID_CONTENT_DIGEST, never compared with an empty body',
        async (type) => {
          const headers = agentHeaders(agent, authority, { extra: [['content-digest', digestOfEmpty]] });
          const res = await http().post('/whoami').set(headers).set('Content-Type', type).set('Content-Digest', digestOfEmpty).send('tampered');
          const row = await expectRefused(t, res, 401, 'INVALID_CONTENT_DIGEST', agent.uid);
          expect(row.detail).toMatchObject({ reason: 'body_not_read' });
        },
      );

      it('a text/plain body with its own correct digest: 401 INVALID_CONTENT_DIGEST (its bytes were not kept)', async () => {
        const headers = agentHeaders(agent, authority, { extra: [['content-digest', contentDigest('hello')]] });
        const res = await http().post('/whoami').set(headers).set('Content-Type', 'text/plain').set('Content-Digest', contentDigest('hello')).send('hello');
        await expectRefused(t, res, 401, 'INVALID_CONTENT_DIGEST', agent.uid);
      });

      it.each(['/whoami', '/whoami/'])('a request to %s with no body and the digest of "": 200', async (path) => {
        const headers = agentHeaders(agent, authority, { extra: [['content-digest', digestOfEmpty]] });
        await http().get(path).set(headers).set('Content-Digest', digestOfEmpty).expect(200);
        const post = agentHeaders(agent, authority, { extra: [['content-digest', digestOfEmpty]] });
        await http().post(path).set(post).set('Content-Digest', digestOfEmpty).expect(200);
      });
    });

    describe('RFC 8941 Decimals in the signature parameters', () => {
      const sigAgent = () => `sig1="${agent.agentUrl}"`;
      const lines = (): Array<[string, string]> => [['"@authority"', authority]];

      it.each(['/whoami', '/whoami/'])('%s: created and expires sent as Decimals, the Integers signed: 401 INVALID_SIGNATURE_INPUT', async (path) => {
        const now = nowSeconds();
        const signed = vestauthParams(agent, { created: String(now), expires: String(now + 300) });
        const sent = signed.replace(`created=${now}`, `created=${now}.0`).replace(`expires=${now + 300}`, `expires=${now + 300}.000`);
        const res = await http().get(path).set(signParams(agent, sigAgent(), lines(), sent, signed));
        const row = await expectRefusedOnPath(res, path, 401, 'INVALID_SIGNATURE_INPUT');
        expect(row.detail).toMatchObject({ reason: 'invalid_parameter', parameter: 'created' });
      });

      it.each(['/whoami', '/whoami/'])('%s: created as a Decimal, signed as sent: 401 INVALID_SIGNATURE_INPUT', async (path) => {
        const now = nowSeconds();
        const res = await http().get(path).set(signParams(agent, sigAgent(), lines(), vestauthParams(agent, { created: `${now}.0` })));
        await expectRefusedOnPath(res, path, 401, 'INVALID_SIGNATURE_INPUT');
      });

      it.each(['/whoami', '/whoami/'])('%s: an extension parameter x=1.0 signed as sent: 200', async (path) => {
        await http().get(path).set(signParams(agent, sigAgent(), lines(), vestauthParams(agent, { extra: ';x=1.0' }))).expect(200);
      });

      it.each(['/whoami', '/whoami/'])('%s: x=1.0 sent but x=1 signed: 401 INVALID_SIGNATURE', async (path) => {
        const sent = vestauthParams(agent, { extra: ';x=1.0' });
        const res = await http().get(path).set(signParams(agent, sigAgent(), lines(), sent, sent.replace(';x=1.0', ';x=1')));
        await expectRefusedOnPath(res, path, 401, 'INVALID_SIGNATURE');
      });
    });

    // DESIGN.md section 2: older clients send the agent host without scheme;
    // this authority's PUBLIC_URL is http.
    describe('a Signature-Agent without scheme naming our agent host', () => {
      const host = () => `${agent.uid}.${authority}`;

      it.each(['/whoami', '/whoami/'].flatMap((path) => [
        [path, 'a bare token', () => host()],
        [path, 'a bare string', () => `"${host()}"`],
        [path, 'a dictionary member', () => `sig1="${host()}"`],
      ] as Array<[string, string, () => string]>))('%s, %s: 200, resolved locally', async (path, _name, value) => {
        const res = await http().get(path).set(signParams(agent, value(), [['"@authority"', authority]], vestauthParams(agent))).expect(200);
        expect(res.body).toMatchObject({ uid: agent.uid, well_known_url: `${agent.agentUrl}${WELL_KNOWN}` });
      });

      it('an explicit https scheme under our http authority: still 403 UNTRUSTED_SIGNATURE_AGENT, never fetched', async () => {
        const res = await http().get('/whoami').set(agentHeaders(agent, authority, { agentUrl: `https://${host()}` }));
        await expectRefused(t, res, 403, 'UNTRUSTED_SIGNATURE_AGENT', agent.uid);
        expect(canary.connections).toBe(0);
      });
    });

    describe("Cloudflare's web-bot-auth signer", () => {
      type Component = NonNullable<Parameters<typeof webBotAuthHeaders>[2]['components']>[number];

      async function signWithWebBotAuth(a: RegisteredAgent, method: string, components?: Component[]): Promise<Record<string, string>> {
        const signer = await signerFromJWK(a.privateKey.export({ format: 'jwk' }));
        const created = new Date();
        const fields = { 'Signature-Agent': `sig1="${a.agentUrl}"` };
        const signed = await webBotAuthHeaders({ method, url: `${t.url}/whoami`, headers: fields }, signer, {
          created,
          expires: new Date(created.getTime() + 300_000),
          components,
        });
        return { ...fields, ...signed };
      }

      it('its default components (@authority and the whole signature-agent field): 200', async () => {
        const headers = await signWithWebBotAuth(agent, 'GET');
        expect(headers['Signature-Input']).toMatch(/^sig1=\("@authority" "signature-agent"\);/);
        const res = await http().get('/whoami').set(headers).expect(200);
        expect(res.body).toEqual({
          uid: agent.uid,
          kid: agent.kid,
          public_jwk: agent.publicJwk,
          well_known_url: `http://${agent.uid}.localhost:${t.port}${WELL_KNOWN}`,
        });
      });

      it('@authority, @method, @path and signature-agent on a POST: 200', async () => {
        const headers = await signWithWebBotAuth(agent, 'POST', ['@authority', '@method', '@path', 'signature-agent']);
        const res = await http().post('/whoami').set(headers).expect(200);
        expect(res.body.uid).toBe(agent.uid);
        const [row] = await auditRowsOf(t, res);
        expect(row.detail).toEqual({ components: ['@authority', '@method', '@path', 'signature-agent'] });
      });
    });
  });

  describe('with the local key cache disabled (KEY_CACHE_TTL_MS=0)', () => {
    let t: TestApp;
    let authority: string;
    const http = () => request(t.url);

    beforeAll(async () => {
      t = await startTestApp({ KEY_CACHE_TTL_MS: '0' });
      authority = `localhost:${t.port}`;
    });

    afterAll(async () => {
      await t?.close();
    });

    it('an agent disabled in the database: 403 AGENT_DISABLED at once, verified again once enabled', async () => {
      const agent = await registerAgent(t.url, authority);
      await http().get('/whoami').set(agentHeaders(agent, authority)).expect(200);

      await t.dataSource.query(`UPDATE agents SET status = 'disabled', disabled_at = now() WHERE uid = $1`, [agent.uid]);
      const res = await http().get('/whoami').set(agentHeaders(agent, authority));
      const row = await expectRefused(t, res, 403, 'AGENT_DISABLED', agent.uid);
      expect(row.kid).toBe(agent.kid);

      await t.dataSource.query(`UPDATE agents SET status = 'active', disabled_at = NULL WHERE uid = $1`, [agent.uid]);
      await http().get('/whoami').set(agentHeaders(agent, authority)).expect(200);
    });

    it('a key revoked by another instance (in the database): 401 REVOKED_KEY at once', async () => {
      const agent = await registerAgent(t.url, authority);
      await http().get('/whoami').set(agentHeaders(agent, authority)).expect(200);
      await t.dataSource.query(`UPDATE public_keys SET status = 'revoked', revoked_at = now(), revoked_reason = 'test' WHERE kid = $1`, [agent.kid]);
      const res = await http().get('/whoami').set(agentHeaders(agent, authority));
      await expectRefused(t, res, 401, 'REVOKED_KEY', agent.uid);
    });
  });

  describe('with loopback domains trusted but private networks refused', () => {
    let t: TestApp;
    let authority: string;
    let agent: RegisteredAgent;
    const http = () => request(t.url);

    beforeAll(async () => {
      t = await startTestApp({
        TRUSTED_AGENT_DOMAINS: `*.localhost:${canary.port},127.0.0.1:${canary.port},169.254.169.254`,
        REMOTE_ALLOW_INSECURE_LOCALHOST: 'true',
        REMOTE_ALLOW_PRIVATE_NETWORKS: 'false',
      });
      authority = `localhost:${t.port}`;
      agent = await registerAgent(t.url, authority);
    });

    afterAll(async () => {
      await t?.close();
    });

    it('a trusted *.localhost agent host is refused by the resolver before connecting: 401 UNKNOWN_KEY', async () => {
      const named = randomUid();
      const fetches = (t.app.get(KeyResolver) as RemoteKeyResolver).stats().fetches;
      const res = await http().get('/whoami').set(agentHeaders(agent, authority, { agentUrl: `http://${named}.localhost:${canary.port}` }));
      const row = await expectRefused(t, res, 401, 'UNKNOWN_KEY', named);
      expect(row.detail).toMatchObject({ reason: 'directory_unavailable', failure: 'forbidden_address' });
      expect((t.app.get(KeyResolver) as RemoteKeyResolver).stats().fetches).toBe(fetches);
      expect(canary.connections).toBe(0);
    });

    // An address has no `agent-<24 hex>` label, so it is no agent host even
    // when configured as trusted (the resolver would refuse it as well).
    it.each<[string, (port: number) => string]>([
      ['a trusted loopback literal', (port) => `http://127.0.0.1:${port}`],
      ['the trusted metadata address', () => 'https://169.254.169.254'],
    ])('%s is no agent host: 403 UNTRUSTED_SIGNATURE_AGENT and no connection', async (_name, url) => {
      const fetches = (t.app.get(KeyResolver) as RemoteKeyResolver).stats().fetches;
      const res = await http().get('/whoami').set(agentHeaders(agent, authority, { agentUrl: url(canary.port) }));
      await expectRefused(t, res, 403, 'UNTRUSTED_SIGNATURE_AGENT', null);
      expect((t.app.get(KeyResolver) as RemoteKeyResolver).stats().fetches).toBe(fetches);
      expect(canary.connections).toBe(0);
    });
  });

  describe('remote resolution of a trusted foreign authority', () => {
    const foreign = agentKeyPair();
    const foreignUid = randomUid();
    let directory: DirectoryServer;
    let foreignAgentUrl: string;
    // RFC 8017 section 3.1 forbids e = 1: the PSS encoding of any message is its signature.
    const rsaModulus = String(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }).n);
    const weakRsa = { kty: 'RSA', n: rsaModulus, e: 'AQ' };
    // A genuine RSA key its publisher restricted to RS256 (RFC 9421 section 3.2 step 6).
    const rs256 = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rs256Jwk = { ...(rs256.publicKey.export({ format: 'jwk' }) as { kty: string; e: string; n: string }), alg: 'RS256' };

    const remoteEnv = (allowPrivateNetworks: boolean): Record<string, string> => ({
      TRUSTED_AGENT_DOMAINS: `*.localhost:${directory.port}`,
      REMOTE_ALLOW_INSECURE_LOCALHOST: 'true',
      REMOTE_ALLOW_PRIVATE_NETWORKS: String(allowPrivateNetworks),
    });

    beforeAll(async () => {
      directory = await startDirectoryServer([foreign.publicJwk, weakRsa, rs256Jwk]);
      foreignAgentUrl = `http://${foreignUid}.localhost:${directory.port}`;
    });

    afterAll(async () => {
      await directory?.close();
    });

    describe('with private networks allowed (development)', () => {
      let t: TestApp;
      let authority: string;
      const http = () => request(t.url);

      beforeAll(async () => {
        t = await startTestApp(remoteEnv(true));
        authority = `localhost:${t.port}`;
      });

      afterAll(async () => {
        await t?.close();
      });

      it('a key listed in the directory: 200 with the foreign identity, fetched from the agent host', async () => {
        const res = await http().get('/whoami').set(signatureHeaders(foreign, { authority, agentUrl: foreignAgentUrl })).expect(200);
        expect(res.body).toEqual({
          uid: foreignUid,
          kid: foreign.kid,
          public_jwk: foreign.publicJwk,
          well_known_url: `${foreignAgentUrl}${WELL_KNOWN}`,
        });
        expect(directory.requests).toEqual([`${foreignUid}.localhost:${directory.port} ${WELL_KNOWN}`]);
        expect(await auditRowsOf(t, res)).toEqual([expect.objectContaining({ outcome: 'success', agent_uid: foreignUid, kid: foreign.kid })]);
      });

      it('a kid the directory does not list: 401 UNKNOWN_KEY', async () => {
        const stranger = agentKeyPair();
        const res = await http().get('/whoami').set(signatureHeaders(stranger, { authority, agentUrl: foreignAgentUrl }));
        const row = await expectRefused(t, res, 401, 'UNKNOWN_KEY', foreignUid);
        expect(row.detail).toMatchObject({ reason: 'key_not_in_directory' });
      });

      it('a signature forged for an RSA key with e = 1 (no private key): 401 UNKNOWN_KEY, the key is not taken', async () => {
        const headers = signedWith(rsaThumbprint(weakRsa), 'rsa-pss-sha512', authority, foreignAgentUrl, (base) => pssEncodeSha512(base, 2048));
        const res = await http().get('/whoami').set(headers);
        const row = await expectRefused(t, res, 401, 'UNKNOWN_KEY', foreignUid);
        expect(row.detail).toMatchObject({ reason: 'key_not_in_directory' });
      });

      it('a genuine rsa-pss-sha512 signature by a key published with "alg":"RS256": 401 UNSUPPORTED_ALGORITHM', async () => {
        const headers = signedWith(rsaThumbprint(rs256Jwk), 'rsa-pss-sha512', authority, foreignAgentUrl, (base) =>
          sign('sha512', base, { key: rs256.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 64 }),
        );
        const res = await http().get('/whoami').set(headers);
        await expectRefused(t, res, 401, 'UNSUPPORTED_ALGORITHM', foreignUid);
      });

      // The directory serves plain http: only an explicit http:// may reach it.
      it('a Signature-Agent without scheme naming a foreign agent host is never fetched over plain http', async () => {
        const uid = randomUid();
        const key = agentKeyPair();
        const host = `${uid}.localhost:${directory.port}`;
        const res = await http()
          .get('/whoami')
          .set(signParams(key, host, [['"@authority"', authority]], vestauthParams(key)));
        expect(res.body.error).toMatchObject({ status: 401, code: 'UNKNOWN_KEY' });
        expect(directory.requests.filter((r) => r.startsWith(uid))).toEqual([]);
      });

      it('a host under the trusted domain that is not an agent host: 403 UNTRUSTED_SIGNATURE_AGENT, never fetched', async () => {
        const before = directory.requests.length;
        const res = await http().get('/whoami').set(signatureHeaders(foreign, { authority, agentUrl: `http://not-an-agent.localhost:${directory.port}` }));
        await expectRefused(t, res, 403, 'UNTRUSTED_SIGNATURE_AGENT', null);
        expect(directory.requests).toHaveLength(before);
      });
    });

    describe('with private networks refused', () => {
      let t: TestApp;
      let authority: string;

      beforeAll(async () => {
        t = await startTestApp(remoteEnv(false));
        authority = `localhost:${t.port}`;
      });

      afterAll(async () => {
        await t?.close();
      });

      it('the same request makes no connection: 401 UNKNOWN_KEY', async () => {
        const connections = directory.connections;
        const res = await request(t.url).get('/whoami').set(signatureHeaders(foreign, { authority, agentUrl: foreignAgentUrl }));
        const row = await expectRefused(t, res, 401, 'UNKNOWN_KEY', foreignUid);
        expect(row.detail).toMatchObject({ failure: 'forbidden_address' });
        expect(directory.connections).toBe(connections);
      });
    });

    describe('a foreign agent whose uid is listed in ADMIN_AGENT_UIDS (as one of ours could be)', () => {
      let t: TestApp;
      let authority: string;
      const http = () => request(t.url);

      beforeAll(async () => {
        t = await startTestApp({ ...remoteEnv(true), ADMIN_AGENT_UIDS: foreignUid });
        authority = `localhost:${t.port}`;
      });

      afterAll(async () => {
        await t?.close();
      });

      it('is not an admin: 403 FORBIDDEN on the admin API, its audit row naming its host', async () => {
        const res = await http().get('/admin/audit-events').set(signatureHeaders(foreign, { authority, agentUrl: foreignAgentUrl }));
        expect({ status: res.status, code: res.body.error?.code }).toEqual({ status: 403, code: 'FORBIDDEN' });
        expect(await auditRowsOf(t, res)).toEqual([
          expect.objectContaining({
            event: 'verify',
            outcome: 'failure',
            error_code: 'FORBIDDEN',
            agent_uid: foreignUid,
            path: '/admin/audit-events',
            detail: expect.objectContaining({ agent_host: `${foreignUid}.localhost:${directory.port}` }),
          }),
        ]);
      });

      it('still verifies as itself elsewhere, the success row naming its host', async () => {
        const res = await http().get('/whoami').set(signatureHeaders(foreign, { authority, agentUrl: foreignAgentUrl })).expect(200);
        expect(res.body.uid).toBe(foreignUid);
        expect(await auditRowsOf(t, res)).toEqual([
          expect.objectContaining({ outcome: 'success', agent_uid: foreignUid, detail: expect.objectContaining({ agent_host: `${foreignUid}.localhost:${directory.port}` }) }),
        ]);
      });
    });
  });
});
