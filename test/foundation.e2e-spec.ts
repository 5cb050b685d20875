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
});
