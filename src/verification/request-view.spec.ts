import express from 'express';
import request from 'supertest';
import { normalizeAuthority, requestViewOf } from './request-view';

interface ViewSnapshot {
  method: string;
  scheme: string;
  authority: string;
  path: string;
  query: string;
  signatureAgent: readonly string[] | null;
  absent: readonly string[] | null;
}

/**
 * The view is built from a real Express request (trust proxy and all), so
 * each case goes through an app answering with what requestViewOf saw.
 */
function viewApp(trustProxy: boolean): express.Express {
  const app = express();
  app.set('trust proxy', trustProxy);
  app.all('/{*rest}', (req, res) => {
    const view = requestViewOf(req);
    const snapshot: ViewSnapshot = {
      method: view.method,
      scheme: view.scheme,
      authority: view.authority,
      path: view.path,
      query: view.query,
      signatureAgent: view.header('Signature-Agent') ?? null,
      absent: view.header('x-not-sent') ?? null,
    };
    res.json(snapshot);
  });
  return app;
}

describe(requestViewOf.name, () => {
  const direct = viewApp(false);
  const behindProxy = viewApp(true);

  it('takes method, authority, raw path and raw query from the request as sent', async () => {
    const res = await request(direct).post('/a%2Fb/c;x?z=1&a=%20').set('Host', 'Api.Example.COM:8443').expect(200);
    expect(res.body).toEqual({
      method: 'POST',
      scheme: 'http',
      authority: 'api.example.com:8443',
      path: '/a%2Fb/c;x',
      query: '?z=1&a=%20',
      signatureAgent: null,
      absent: null,
    });
  });

  it('gives an empty query, not "?", when there is none', async () => {
    const res = await request(direct).get('/whoami').set('Host', 'localhost:3000').expect(200);
    expect(res.body).toMatchObject({ path: '/whoami', query: '', authority: 'localhost:3000' });
  });

  it("drops the scheme's default port from the authority (RFC 9421 section 2.2.3)", async () => {
    const res = await request(direct).get('/').set('Host', 'example.com:80').expect(200);
    expect(res.body).toMatchObject({ authority: 'example.com', path: '/' });
  });

  it('hands out header values by case-insensitive name, undefined when absent', async () => {
    const res = await request(direct).get('/').set('Signature-Agent', 'sig1="https://agent.example"').expect(200);
    expect(res.body).toMatchObject({ signatureAgent: ['sig1="https://agent.example"'], absent: null });
  });

  // req.headers is a plain object: these names would find Object.prototype's members.
  it.each(['constructor', '__proto__'])('answers undefined for %s when no such header was sent', async (name) => {
    const app = express();
    app.get('/', (req, res) => {
      const value = requestViewOf(req).header(name);
      res.json({ absent: value === undefined });
    });
    const res = await request(app).get('/').expect(200);
    expect(res.body).toEqual({ absent: true });
  });

  it('hands out a header named constructor when it was sent', async () => {
    const app = express();
    app.get('/', (req, res) => {
      res.json({ value: requestViewOf(req).header('constructor') ?? null });
    });
    const res = await request(app).get('/').set('Constructor', 'sent').expect(200);
    expect(res.body).toEqual({ value: ['sent'] });
  });

  it('ignores X-Forwarded-Host and X-Forwarded-Proto when the proxy is not trusted', async () => {
    const res = await request(direct)
      .get('/whoami')
      .set('Host', 'localhost:3000')
      .set('X-Forwarded-Host', 'evil.example')
      .set('X-Forwarded-Proto', 'https')
      .expect(200);
    expect(res.body).toMatchObject({ scheme: 'http', authority: 'localhost:3000' });
  });

  it('uses the forwarded host and scheme when the proxy is trusted, with the default port dropped', async () => {
    const res = await request(behindProxy)
      .get('/whoami')
      .set('Host', 'internal:3000')
      .set('X-Forwarded-Host', 'Auth.Example.com:443')
      .set('X-Forwarded-Proto', 'https')
      .expect(200);
    expect(res.body).toMatchObject({ scheme: 'https', authority: 'auth.example.com' });
  });
});

describe(normalizeAuthority.name, () => {
  const sut = normalizeAuthority;

  it.each<[string, 'http' | 'https', string]>([
    ['Example.COM', 'http', 'example.com'],
    ['example.com:80', 'http', 'example.com'],
    ['example.com:443', 'https', 'example.com'],
    ['example.com:443', 'http', 'example.com:443'],
    ['example.com:80', 'https', 'example.com:80'],
    ['example.com:8080', 'http', 'example.com:8080'],
    ['[::1]:80', 'http', '[::1]'],
    ['[::1]', 'http', '[::1]'],
    ['[::1]:3000', 'http', '[::1]:3000'],
    ['  localhost:3000 ', 'http', 'localhost:3000'],
  ])('%s over %s is %s', (authority, scheme, expected) => {
    expect(sut(authority, scheme)).toBe(expected);
  });
});
