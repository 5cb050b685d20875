import { createServer } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { LookupAddress } from 'node:dns';
import type { AddressInfo } from 'node:net';
import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { DomainError } from '../common/errors/domain-error';
import type { SignatureAgentRef } from './core/signature-agent';
import { algorithmFitsKey, jwkThumbprint } from './core/jwk';
import { WELL_KNOWN_DIRECTORY_PATH } from './key-resolver';
import { RemoteKeyResolver } from './remote-key-resolver';
import type { RemoteKeyResolverOptions } from './remote-key-resolver';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

interface TestServer {
  port: number;
  /** Headers of every HTTP request received, in order. */
  requests: IncomingHttpHeaders[];
  /** TCP connections accepted, HTTP or not. */
  connections: () => number;
  close: () => Promise<void>;
}

interface AgentKey {
  jwk: Record<string, string>;
  privateJwk: Record<string, string>;
  kid: string;
  sign: (data: Buffer) => Buffer;
}

const UID = 'agent-0123456789abcdef01234567';
const DIRECTORY_TYPE = 'application/http-message-signatures-directory+json';
const servers: TestServer[] = [];

async function startServer(handler: Handler): Promise<TestServer> {
  const requests: IncomingHttpHeaders[] = [];
  let connections = 0;
  const server: Server = createServer((request, response) => {
    requests.push(request.headers);
    handler(request, response);
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const testServer: TestServer = {
    port: (server.address() as AddressInfo).port,
    requests,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  servers.push(testServer);
  return testServer;
}

function directoryServer(
  body: () => unknown,
  headers: Record<string, string> = {},
): Promise<TestServer> {
  return startServer((_request, response) => {
    response.writeHead(200, { 'content-type': DIRECTORY_TYPE, ...headers });
    response.end(JSON.stringify(body()));
  });
}

function agentKey(): AgentKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' }) as Record<string, string>;
  return {
    jwk,
    privateJwk: privateKey.export({ format: 'jwk' }) as Record<string, string>,
    kid: jwkThumbprint(jwk),
    sign: (data) => sign(null, data, privateKey),
  };
}

function agentAt(origin: string): SignatureAgentRef {
  const url = new URL(origin);
  return {
    url,
    origin: url.origin,
    scheme: url.protocol === 'https:' ? 'https' : 'http',
    host: url.hostname,
    port: url.port === '' ? undefined : Number(url.port),
    authority: url.host,
    type: 'directory',
  };
}

function localAgent(server: TestServer): SignatureAgentRef {
  return agentAt(`http://${UID}.localhost:${server.port}`);
}

// Reaching a server on 127.0.0.1 over http needs both development switches.
function loopbackResolver(overrides: Partial<RemoteKeyResolverOptions> = {}): RemoteKeyResolver {
  return new RemoteKeyResolver({
    allowInsecureLocalhost: true,
    allowPrivateNetworks: true,
    timeoutMs: 1000,
    ...overrides,
  });
}

function fixedLookup(...addresses: string[]): jest.Mock<Promise<LookupAddress[]>, [string]> {
  return jest.fn((_hostname: string) =>
    Promise.resolve(addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))),
  );
}

async function failureOf(promise: Promise<unknown>): Promise<DomainError> {
  const error: unknown = await promise.then(
    () => undefined,
    (rejection: unknown) => rejection,
  );
  if (!(error instanceof DomainError)) {
    throw new Error(`expected a DomainError, got ${String(error)}`);
  }
  return error;
}

async function expectUnavailable(promise: Promise<unknown>, failure: string): Promise<void> {
  const error = await failureOf(promise);
  expect(error.code).toBe('UNKNOWN_KEY');
  expect(error.status).toBe(401);
  expect(error.message).toBe('unknown key');
  expect(error.detail).toEqual({ reason: 'directory_unavailable', failure });
}

async function expectNotInDirectory(promise: Promise<unknown>): Promise<void> {
  const error = await failureOf(promise);
  expect(error.code).toBe('UNKNOWN_KEY');
  expect(error.detail).toEqual({ reason: 'key_not_in_directory' });
}

describe(RemoteKeyResolver.name, () => {
  beforeAll(() => {
    jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  afterAll(() => {
    jest.restoreAllMocks();
  });

  describe('directory contents', () => {
    it('resolves a published Ed25519 key to a usable public key', async () => {
      const key = agentKey();
      const server = await directoryServer(() => ({ keys: [{ ...key.jwk, kid: key.kid }] }));
      const sut = loopbackResolver();

      const resolved = await sut.resolve(localAgent(server), key.kid);

      expect(resolved.uid).toBe(UID);
      expect(resolved.kid).toBe(key.kid);
      expect(resolved.publicJwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: key.jwk.x, kid: key.kid });
      expect(resolved.wellKnownUrl).toBe(
        `http://${UID}.localhost:${server.port}${WELL_KNOWN_DIRECTORY_PATH}`,
      );
      const data = Buffer.from('signature base');
      expect(verify(null, data, resolved.key, key.sign(data))).toBe(true);
      expect(server.requests).toHaveLength(1);
      expect(server.requests[0].host).toBe(`${UID}.localhost:${server.port}`);
    });

    it('accepts a key without kid and skips one whose kid is not its thumbprint', async () => {
      const bare = agentKey();
      const mislabelled = agentKey();
      const server = await directoryServer(() => ({
        keys: [{ ...mislabelled.jwk, kid: bare.kid }, bare.jwk],
      }));
      const sut = loopbackResolver();

      await expectNotInDirectory(sut.resolve(localAgent(server), mislabelled.kid));
      const resolved = await sut.resolve(localAgent(server), bare.kid);
      expect(resolved.publicJwk.x).toBe(bare.jwk.x);
    });

    it('refuses a key published with private material', async () => {
      const leaked = agentKey();
      const good = agentKey();
      const server = await directoryServer(() => ({ keys: [leaked.privateJwk, good.jwk] }));
      const sut = loopbackResolver();

      await expectNotInDirectory(sut.resolve(localAgent(server), leaked.kid));
      await expect(sut.resolve(localAgent(server), good.kid)).resolves.toMatchObject({ kid: good.kid });
    });

    it('skips an Ed25519 key anyone can sign for (small-order or non-canonical)', async () => {
      const identity = { kty: 'OKP', crv: 'Ed25519', x: 'AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' };
      const identityNonCanonical = { kty: 'OKP', crv: 'Ed25519', x: '7v_______________________________________38' };
      const good = agentKey();
      const server = await directoryServer(() => ({ keys: [identity, identityNonCanonical, good.jwk] }));
      const sut = loopbackResolver();

      await expectNotInDirectory(sut.resolve(localAgent(server), jwkThumbprint(identity)));
      await expectNotInDirectory(sut.resolve(localAgent(server), jwkThumbprint(identityNonCanonical)));
      await expect(sut.resolve(localAgent(server), good.kid)).resolves.toMatchObject({ kid: good.kid });
    });

    it('skips an RSA key with a weak exponent or an even modulus (RFC 8017 section 3.1)', async () => {
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }) as Record<string, string>;
      const nBytes = Buffer.from(rsa.n, 'base64url');
      nBytes[nBytes.length - 1] &= 0xfe;
      const weak = [
        { kty: 'RSA', n: rsa.n, e: 'AQ' }, // e = 1
        { kty: 'RSA', n: rsa.n, e: 'Ag' }, // e = 2
        { kty: 'RSA', n: rsa.n, e: 'AQAA' }, // e = 65536
        { kty: 'RSA', n: nBytes.toString('base64url'), e: 'AQAB' },
      ];
      const smallOdd = { kty: 'RSA', n: rsa.n, e: 'Aw' }; // e = 3
      const server = await directoryServer(() => ({ keys: [...weak, smallOdd, rsa] }));
      const sut = loopbackResolver();
      const kidOf = (jwk: Record<string, string>) =>
        createHash('sha256').update(JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n })).digest('base64url');

      for (const jwk of weak) {
        await expectNotInDirectory(sut.resolve(localAgent(server), kidOf(jwk)));
      }
      await expect(sut.resolve(localAgent(server), kidOf(smallOdd))).resolves.toMatchObject({ kid: kidOf(smallOdd) });
      await expect(sut.resolve(localAgent(server), jwkThumbprint(rsa))).resolves.toMatchObject({
        kid: jwkThumbprint(rsa),
      });
    });

    it('skips a key published for another use than verifying signatures (RFC 7517 sections 4.2, 4.3)', async () => {
      const [enc, encrypt, signOnly, sig, verifying] = Array.from({ length: 5 }, () => agentKey());
      const server = await directoryServer(() => ({
        keys: [
          { ...enc.jwk, use: 'enc' },
          { ...encrypt.jwk, key_ops: ['encrypt'] },
          { ...signOnly.jwk, key_ops: ['sign'] },
          { ...sig.jwk, use: 'sig' },
          { ...verifying.jwk, use: 'sig', key_ops: ['verify'] },
        ],
      }));
      const sut = loopbackResolver();

      for (const key of [enc, encrypt, signOnly]) {
        await expectNotInDirectory(sut.resolve(localAgent(server), key.kid));
      }
      for (const key of [sig, verifying]) {
        await expect(sut.resolve(localAgent(server), key.kid)).resolves.toMatchObject({ kid: key.kid });
      }
    });

    it('keeps a key\'s alg: it verifies only signatures of that algorithm (RFC 9421 section 3.2)', async () => {
      const rsaOf = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }) as Record<string, string>;
      const p256Of = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as Record<string, string>;
      const rs256 = { ...rsaOf(), alg: 'RS256' };
      const ps512 = { ...rsaOf(), alg: 'PS512' };
      const es512 = { ...p256Of(), alg: 'ES512' };
      const es256 = { ...p256Of(), alg: 'ES256' };
      const eddsa = { ...agentKey().jwk, alg: 'EdDSA' };
      const server = await directoryServer(() => ({ keys: [rs256, ps512, es512, es256, eddsa] }));
      const sut = loopbackResolver();
      const fits = async (jwk: Record<string, string>, alg: string) =>
        algorithmFitsKey(alg, (await sut.resolve(localAgent(server), jwkThumbprint(jwk))).key);

      expect(await fits(rs256, 'rsa-pss-sha512')).toBe(false);
      expect(await fits(ps512, 'rsa-pss-sha512')).toBe(true);
      expect(await fits(es512, 'ecdsa-p256-sha256')).toBe(false);
      expect(await fits(es256, 'ecdsa-p256-sha256')).toBe(true);
      expect(await fits(eddsa, 'ed25519')).toBe(true);
    });

    it('considers only the first maxKeys entries', async () => {
      const keys = Array.from({ length: 5 }, () => agentKey());
      const server = await directoryServer(() => ({ keys: keys.map((key) => key.jwk) }));
      const sut = loopbackResolver({ maxKeys: 3 });

      await expect(sut.resolve(localAgent(server), keys[2].kid)).resolves.toMatchObject({
        kid: keys[2].kid,
      });
      await expectNotInDirectory(sut.resolve(localAgent(server), keys[3].kid));
    });

    it('skips entries that are not valid public keys', async () => {
      const good = agentKey();
      const server = await directoryServer(() => ({
        keys: [null, 'x', { kty: 'OKP', crv: 'X25519', x: good.jwk.x }, { kty: 'oct', k: 'AA' }, good.jwk],
      }));
      const sut = loopbackResolver();

      await expect(sut.resolve(localAgent(server), good.kid)).resolves.toMatchObject({ kid: good.kid });
    });

    it('refuses a body that is not a key directory', async () => {
      const server = await startServer((_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{"keys": {}}');
      });

      await expectUnavailable(loopbackResolver().resolve(localAgent(server), 'kid'), 'invalid_directory');
    });

    it('refuses invalid JSON', async () => {
      const server = await startServer((_request, response) => {
        response.writeHead(200, { 'content-type': DIRECTORY_TYPE });
        response.end('{"keys": [');
      });

      await expectUnavailable(loopbackResolver().resolve(localAgent(server), 'kid'), 'invalid_json');
    });

    it('refuses a content type other than JSON', async () => {
      const key = agentKey();
      const server = await directoryServer(() => ({ keys: [key.jwk] }), {
        'content-type': 'text/html; charset=utf-8',
      });

      await expectUnavailable(loopbackResolver().resolve(localAgent(server), key.kid), 'content_type');
    });
  });

  describe('HTTP rules', () => {
    it('refuses a redirect and never contacts its target', async () => {
      const canary = await directoryServer(() => ({ keys: [] }));
      const server = await startServer((_request, response) => {
        response.writeHead(302, {
          location: `http://${UID}.localhost:${canary.port}${WELL_KNOWN_DIRECTORY_PATH}`,
        });
        response.end();
      });

      await expectUnavailable(loopbackResolver().resolve(localAgent(server), 'kid'), 'redirect');
      expect(canary.connections()).toBe(0);
    });

    it.each([204, 404, 500])('refuses status %i', async (status) => {
      const server = await startServer((_request, response) => {
        response.writeHead(status, { 'content-type': DIRECTORY_TYPE });
        response.end(status === 204 ? undefined : '{"keys":[]}');
      });

      await expectUnavailable(loopbackResolver().resolve(localAgent(server), 'kid'), `status_${status}`);
    });

    it('refuses a body whose Content-Length exceeds maxBytes', async () => {
      const server = await directoryServer(() => ({ keys: [], padding: 'x'.repeat(2048) }));

      await expectUnavailable(
        loopbackResolver({ maxBytes: 1024 }).resolve(localAgent(server), 'kid'),
        'too_large',
      );
    });

    it('stops reading a chunked body once it exceeds maxBytes', async () => {
      const server = await startServer((_request, response) => {
        response.writeHead(200, { 'content-type': DIRECTORY_TYPE });
        response.write('{"keys":[],"padding":"');
        const chunk = 'x'.repeat(512);
        const timer = setInterval(() => response.write(chunk), 5);
        response.on('close', () => clearInterval(timer));
      });

      await expectUnavailable(
        loopbackResolver({ maxBytes: 4096 }).resolve(localAgent(server), 'kid'),
        'too_large',
      );
    });

    it('gives up on a server that never answers within the timeout', async () => {
      const server = await startServer(() => undefined);
      const sut = loopbackResolver({ timeoutMs: 300 });
      const started = Date.now();

      await expectUnavailable(sut.resolve(localAgent(server), 'kid'), 'timeout');
      expect(Date.now() - started).toBeLessThan(1000);
      expect(server.requests).toHaveLength(1);
    });

    it('gives up on a body that stalls within the timeout', async () => {
      const server = await startServer((_request, response) => {
        response.writeHead(200, { 'content-type': DIRECTORY_TYPE });
        response.write('{"keys":[');
      });
      const started = Date.now();

      await expectUnavailable(
        loopbackResolver({ timeoutMs: 300 }).resolve(localAgent(server), 'kid'),
        'timeout',
      );
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('gives up on a DNS lookup that never answers within the timeout', async () => {
      const sut = loopbackResolver({ timeoutMs: 200, lookup: () => new Promise(() => undefined) });

      await expectUnavailable(sut.resolve(agentAt('https://agent-x.slow.test'), 'kid'), 'timeout');
    });
  });

  describe('caching', () => {
    it('answers a second resolve from the cache', async () => {
      const key = agentKey();
      const server = await directoryServer(() => ({ keys: [key.jwk] }));
      const sut = loopbackResolver();

      await sut.resolve(localAgent(server), key.kid);
      await sut.resolve(localAgent(server), key.kid);
      await expectNotInDirectory(sut.resolve(localAgent(server), agentKey().kid));

      expect(server.requests).toHaveLength(1);
      expect(sut.stats()).toEqual({ hits: 2, misses: 1, fetches: 1, failures: 0 });
    });

    it('re-checks a fresh directory for an unknown keyid (a rotated key), at most once per recheckAfterMs', async () => {
      let now = 1_000_000;
      const first = agentKey();
      const rotated = agentKey();
      let published = [first.jwk];
      const server = await directoryServer(() => ({ keys: published }), { 'cache-control': 'max-age=60' });
      const sut = loopbackResolver({ now: () => now });

      await sut.resolve(localAgent(server), first.kid);
      published = [rotated.jwk];
      // Just fetched: an unknown keyid does not trigger another request.
      await expectNotInDirectory(sut.resolve(localAgent(server), rotated.kid));
      expect(server.requests).toHaveLength(1);

      now += 5_000;
      await expect(sut.resolve(localAgent(server), rotated.kid)).resolves.toMatchObject({ kid: rotated.kid });
      expect(server.requests).toHaveLength(2);
      // Random keyids right after cannot force more fetches.
      await expectNotInDirectory(sut.resolve(localAgent(server), agentKey().kid));
      await expectNotInDirectory(sut.resolve(localAgent(server), agentKey().kid));
      expect(server.requests).toHaveLength(2);
    });

    it('keeps a directory for its max-age and fetches it again afterwards', async () => {
      let now = 1_000_000;
      const key = agentKey();
      const server = await directoryServer(() => ({ keys: [key.jwk] }), {
        'cache-control': 'public, max-age=60',
      });
      const sut = loopbackResolver({ now: () => now });

      await sut.resolve(localAgent(server), key.kid);
      now += 59_000;
      await sut.resolve(localAgent(server), key.kid);
      expect(server.requests).toHaveLength(1);

      now += 2_000;
      await sut.resolve(localAgent(server), key.kid);
      expect(server.requests).toHaveLength(2);
    });

    it('clamps max-age to cacheTtlMs', async () => {
      let now = 0;
      const key = agentKey();
      const server = await directoryServer(() => ({ keys: [key.jwk] }), {
        'cache-control': 'max-age=86400',
      });
      const sut = loopbackResolver({ cacheTtlMs: 120_000, now: () => now });

      await sut.resolve(localAgent(server), key.kid);
      now += 120_001;
      await sut.resolve(localAgent(server), key.kid);

      expect(server.requests).toHaveLength(2);
    });

    it('does not keep a no-store directory', async () => {
      const key = agentKey();
      const server = await directoryServer(() => ({ keys: [key.jwk] }), {
        'cache-control': 'no-store',
      });
      const sut = loopbackResolver();

      await sut.resolve(localAgent(server), key.kid);
      await sut.resolve(localAgent(server), key.kid);

      expect(server.requests).toHaveLength(2);
    });

    it('revalidates a stale directory with If-None-Match and keeps it on 304', async () => {
      let now = 0;
      const key = agentKey();
      const server = await startServer((request, response) => {
        const headers = { etag: '"v1"', 'cache-control': 'max-age=10' };
        if (request.headers['if-none-match'] === '"v1"') {
          response.writeHead(304, headers);
          response.end();
          return;
        }
        response.writeHead(200, { ...headers, 'content-type': DIRECTORY_TYPE });
        response.end(JSON.stringify({ keys: [key.jwk] }));
      });
      const sut = loopbackResolver({ now: () => now });

      await sut.resolve(localAgent(server), key.kid);
      now += 11_000;
      await expect(sut.resolve(localAgent(server), key.kid)).resolves.toMatchObject({ kid: key.kid });
      now += 5_000;
      await sut.resolve(localAgent(server), key.kid);

      expect(server.requests.map((headers) => headers['if-none-match'])).toEqual([undefined, '"v1"']);
    });

    it('drops a key the revalidated directory no longer lists', async () => {
      let now = 0;
      let published = agentKey();
      const retired = published;
      const server = await directoryServer(() => ({ keys: [published.jwk] }), {
        'cache-control': 'max-age=10',
      });
      const sut = loopbackResolver({ now: () => now });

      await sut.resolve(localAgent(server), retired.kid);
      published = agentKey();
      now += 11_000;

      await expectNotInDirectory(sut.resolve(localAgent(server), retired.kid));
      await expect(sut.resolve(localAgent(server), published.kid)).resolves.toBeDefined();
    });

    it('remembers a failure for failureTtlMs', async () => {
      let now = 0;
      let healthy = false;
      const key = agentKey();
      const server = await startServer((_request, response) => {
        response.writeHead(healthy ? 200 : 500, { 'content-type': DIRECTORY_TYPE });
        response.end(JSON.stringify({ keys: [key.jwk] }));
      });
      const sut = loopbackResolver({ failureTtlMs: 30_000, now: () => now });

      await expectUnavailable(sut.resolve(localAgent(server), key.kid), 'status_500');
      healthy = true;
      now += 29_000;
      await expectUnavailable(sut.resolve(localAgent(server), key.kid), 'status_500');
      expect(server.requests).toHaveLength(1);

      now += 2_000;
      await expect(sut.resolve(localAgent(server), key.kid)).resolves.toMatchObject({ kid: key.kid });
      expect(server.requests).toHaveLength(2);
      expect(sut.stats()).toEqual({ hits: 1, misses: 2, fetches: 2, failures: 1 });
    });

    it('remembers a failure and keeps a directory at most 5 minutes, whatever it is configured to', async () => {
      let now = 0;
      let healthy = false;
      const key = agentKey();
      const server = await startServer((_request, response) => {
        response.writeHead(healthy ? 200 : 500, { 'content-type': DIRECTORY_TYPE, 'cache-control': 'max-age=86400' });
        response.end(JSON.stringify({ keys: [key.jwk] }));
      });
      const sut = loopbackResolver({ failureTtlMs: 3_600_000, cacheTtlMs: 3_600_000, now: () => now });

      await expectUnavailable(sut.resolve(localAgent(server), key.kid), 'status_500');
      healthy = true;
      now += 299_000;
      await expectUnavailable(sut.resolve(localAgent(server), key.kid), 'status_500');
      expect(server.requests).toHaveLength(1);
      now += 2_000;
      await expect(sut.resolve(localAgent(server), key.kid)).resolves.toMatchObject({ kid: key.kid });
      expect(server.requests).toHaveLength(2);

      now += 299_000;
      await sut.resolve(localAgent(server), key.kid);
      expect(server.requests).toHaveLength(2);
      now += 2_000;
      await sut.resolve(localAgent(server), key.kid);
      expect(server.requests).toHaveLength(3);
    });

    it('shares one fetch among concurrent resolves', async () => {
      const key = agentKey();
      const server = await startServer((_request, response) => {
        setTimeout(() => {
          response.writeHead(200, { 'content-type': DIRECTORY_TYPE });
          response.end(JSON.stringify({ keys: [key.jwk] }));
        }, 100);
      });
      const sut = loopbackResolver();

      const results = await Promise.all(
        Array.from({ length: 20 }, () => sut.resolve(localAgent(server), key.kid)),
      );

      expect(results.every((result) => result.kid === key.kid)).toBe(true);
      expect(server.requests).toHaveLength(1);
      expect(sut.stats().fetches).toBe(1);
    });
  });

  describe('network rules', () => {
    it.each(['127.0.0.1', '169.254.169.254', '::ffff:127.0.0.1', '10.0.0.1', '0.0.0.0', '::1', 'fd00::1'])(
      'refuses a host resolving to %s without connecting',
      async (address) => {
        const canary = await directoryServer(() => ({ keys: [] }));
        const lookup = fixedLookup(address);
        const sut = new RemoteKeyResolver({ allowInsecureLocalhost: false, allowPrivateNetworks: false, lookup });

        const error = await failureOf(sut.resolve(agentAt(`https://agent-x.evil.test:${canary.port}`), 'kid'));

        expect(error.detail).toEqual({ reason: 'directory_unavailable', failure: 'forbidden_address' });
        expect(error.message).not.toContain(address);
        expect(lookup).toHaveBeenCalledWith('agent-x.evil.test');
        expect(canary.connections()).toBe(0);
      },
    );

    it('refuses a host when any one of its addresses is private', async () => {
      const canary = await directoryServer(() => ({ keys: [] }));
      const sut = new RemoteKeyResolver({
        allowInsecureLocalhost: false,
        allowPrivateNetworks: false,
        lookup: fixedLookup('93.184.216.34', '127.0.0.1'),
      });

      await expectUnavailable(
        sut.resolve(agentAt(`https://agent-x.evil.test:${canary.port}`), 'kid'),
        'forbidden_address',
      );
      expect(canary.connections()).toBe(0);
    });

    it('connects to the looked-up address when private networks are allowed', async () => {
      const canary = await directoryServer(() => ({ keys: [] }));
      const lookup = fixedLookup('127.0.0.1');
      const sut = new RemoteKeyResolver({ allowInsecureLocalhost: false, allowPrivateNetworks: true, lookup });

      // An http server cannot complete the TLS handshake; reaching it at all
      // shows the socket went to the vetted address.
      await failureOf(sut.resolve(agentAt(`https://agent-x.evil.test:${canary.port}`), 'kid'));

      expect(lookup).toHaveBeenCalledTimes(1);
      expect(canary.connections()).toBe(1);
    });

    it('refuses a failing DNS lookup', async () => {
      const sut = new RemoteKeyResolver({
        allowInsecureLocalhost: false,
        allowPrivateNetworks: false,
        lookup: () => Promise.reject(new Error('getaddrinfo ENOTFOUND 10.1.2.3')),
      });

      const error = await failureOf(sut.resolve(agentAt('https://agent-x.gone.test'), 'kid'));

      expect(error.detail).toEqual({ reason: 'directory_unavailable', failure: 'dns_failed' });
      expect(error.message).toBe('unknown key');
    });

    it('requires https when insecure localhost is not allowed', async () => {
      const canary = await directoryServer(() => ({ keys: [] }));
      const sut = new RemoteKeyResolver({ allowInsecureLocalhost: false, allowPrivateNetworks: true });

      await expectUnavailable(sut.resolve(localAgent(canary), 'kid'), 'insecure_scheme');
      expect(canary.connections()).toBe(0);
    });

    it('allows http to a localhost name only when insecure localhost is allowed', async () => {
      const key = agentKey();
      const server = await directoryServer(() => ({ keys: [key.jwk] }));
      const lookup = fixedLookup('127.0.0.1');
      const sut = new RemoteKeyResolver({ allowInsecureLocalhost: true, allowPrivateNetworks: true, lookup });

      await expect(sut.resolve(localAgent(server), key.kid)).resolves.toMatchObject({ kid: key.kid });
      await expect(
        sut.resolve(agentAt(`http://127.0.0.1:${server.port}`), key.kid),
      ).resolves.toMatchObject({ kid: key.kid });
      await expectUnavailable(
        sut.resolve(agentAt(`http://agent-x.evil.test:${server.port}`), key.kid),
        'insecure_scheme',
      );
      expect(lookup).not.toHaveBeenCalled();
      expect(server.requests).toHaveLength(2);
    });

    it('still refuses loopback for a localhost name when private networks are not allowed', async () => {
      const canary = await directoryServer(() => ({ keys: [] }));
      const sut = new RemoteKeyResolver({ allowInsecureLocalhost: true, allowPrivateNetworks: false });

      await expectUnavailable(sut.resolve(localAgent(canary), 'kid'), 'forbidden_address');
      expect(canary.connections()).toBe(0);
    });
  });
});
