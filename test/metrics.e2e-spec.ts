import request from 'supertest';
import { agentHeaders, registerAgent } from './factories/agent.factory';
import { startTestApp, TestApp } from './support/test-app';

describe('Metrics and security headers (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('exposes request, verification, registration, cache and pool metrics in Prometheus format', async () => {
    const authority = `localhost:${t.port}`;
    const agent = await registerAgent(t.url, authority);
    await request(t.url).get('/whoami').set(agentHeaders(agent, authority)).expect(200);
    await request(t.url).get('/whoami').set(agentHeaders(agent, authority, { tag: 'other' })).expect(401);
    // A key this process did not register: looked up in the database (a miss); the registered one was cached at registration.
    await request(t.url).get('/whoami').set(agentHeaders({ ...agent, kid: 'A'.repeat(43) }, authority)).expect(401);

    const res = await request(t.url).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.text;
    expect(text).toMatch(/vestauth_http_requests_total\{route="\/whoami",method="GET",status="200"\} [1-9]/);
    expect(text).toMatch(/vestauth_verifications_total\{outcome="success",code="none"\} [1-9]/);
    expect(text).toMatch(/vestauth_verifications_total\{outcome="failure",code="WRONG_TAG"\} [1-9]/);
    expect(text).toMatch(/vestauth_verification_duration_seconds_bucket\{le="[0-9.+Inf]+",outcome="success"\} [1-9]/);
    expect(text).toMatch(/vestauth_registration_duration_seconds_count\{operation="register",outcome="success"\} [1-9]/);
    expect(text).toMatch(/vestauth_key_cache_lookups\{result="miss"\} [1-9]/);
    expect(text).toMatch(/vestauth_key_cache_lookups\{result="hit"\} [1-9]/);
    expect(text).toMatch(/vestauth_key_cache_hit_ratio \d/);
    expect(text).toMatch(/vestauth_remote_directory_requests\{kind="fetches"\} 0/);
    expect(text).toMatch(/vestauth_purged_rows\{table="used_nonces"\} \d+/);
    expect(text).toMatch(/vestauth_db_pool_connections\{state="total"\} [1-9]/);
    expect(text).toMatch(/vestauth_process_resident_memory_bytes \d+/);
    // Nothing secret ever becomes a label.
    expect(text).not.toContain(agent.kid);
    expect(text).not.toContain(agent.uid);
  });

  it('sends security headers and no CORS headers by default', async () => {
    const res = await request(t.url).get('/').set('Origin', 'https://evil.example').expect(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toBeDefined();
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['x-powered-by']).toBeUndefined();
  });
});
