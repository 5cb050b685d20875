import { connect } from 'node:net';
import request from 'supertest';
import { startTestApp, TestApp } from './support/test-app';

describe('Foundation (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('GET / answers the service status with the package version', async () => {
    const res = await request(t.app.getHttpServer()).get('/').expect(200);
    expect(res.body).toEqual({ service: 'vestauth', status: 'ok', version: require('../package.json').version });
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('health endpoints report up', async () => {
    await request(t.app.getHttpServer()).get('/health/live').expect(200);
    const ready = await request(t.app.getHttpServer()).get('/health/ready').expect(200);
    expect(ready.body.info.database.status).toBe('up');
  });

  it('unknown route is 404 with the error body', async () => {
    const res = await request(t.app.getHttpServer()).get('/nope').expect(404);
    expect(res.body).toEqual({ error: { status: 404, code: 'NOT_FOUND', message: 'no route for GET /nope' } });
  });

  it('body over the limit is 413', async () => {
    const res = await request(t.app.getHttpServer())
      .post('/register')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ pad: 'x'.repeat(70 * 1024) }))
      .expect(413);
    expect(res.body.error).toEqual({ status: 413, code: 'PAYLOAD_TOO_LARGE', message: 'request body too large' });
  });

  it('malformed JSON is 400', async () => {
    const res = await request(t.app.getHttpServer())
      .post('/register')
      .set('Content-Type', 'application/json')
      .send('{"public_jwk":')
      .expect(400);
    expect(res.body.error.code).toBe('INVALID_JSON');
  });

  it('headers over 16 KiB are 431, answered by Node before the app, and the connection is closed', async () => {
    const { port } = new URL(t.url);
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString('latin1')));
      socket.on('end', () => resolve(received));
      socket.on('error', reject);
      socket.end(`GET /whoami HTTP/1.1\r\nHost: localhost:${port}\r\nX-Padding: ${'x'.repeat(20 * 1024)}\r\n\r\n`);
    });
    expect(raw.split('\r\n')[0]).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect(raw).toMatch(/\r\nConnection: close\r\n/i);
  });
});
