import { Test } from '@nestjs/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module';
import { AppConfig, loadAppConfig } from '../../src/config/app-config';
import { APP_OPTIONS, configureApp } from '../../src/bootstrap';
import { registerAgent, RegisteredAgent } from '../factories/agent.factory';
import { freePort } from './free-port';

export interface TestApp {
  app: NestExpressApplication;
  config: AppConfig;
  dataSource: DataSource;
  port: number;
  /** http://localhost:<port> (also the PUBLIC_URL unless overridden). */
  url: string;
  close(): Promise<void>;
}


/**
 * Boots the real AppModule on the test database and listens on a real
 * port. `env` overrides the environment the configuration is built from.
 */
export async function startTestApp(env: Record<string, string> = {}, fixedPort?: number): Promise<TestApp> {
  const port = fixedPort ?? (await freePort());
  const config = loadAppConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'error',
    DATABASE_URL: process.env.DATABASE_URL,
    DATABASE_SINGLE_SESSION: process.env.TEST_DATABASE_KIND === 'pglite' ? 'true' : 'false',
    PORT: String(port),
    PUBLIC_URL: `http://localhost:${port}`,
    // The suites send far more from 127.0.0.1 than any budget allows;
    // test/rate-limit.e2e-spec.ts turns the limits on.
    RATE_LIMIT_REGISTER_PER_MINUTE: '0',
    RATE_LIMIT_FAILED_VERIFY_PER_MINUTE: '0',
    ...env,
  });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] })
    .setLogger(silentUnlessError())
    .compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ ...APP_OPTIONS });
  configureApp(app, config);
  await app.listen(port, '127.0.0.1');
  return {
    app,
    config,
    dataSource: app.get(DataSource),
    port,
    url: `http://localhost:${port}`,
    close: () => app.close(),
  };
}

function silentUnlessError() {
  const noop = (): void => undefined;
  return {
    log: noop,
    warn: noop,
    debug: noop,
    verbose: noop,
    error: (...args: unknown[]) => process.stderr.write(`[test app error] ${args.map(String).join(' ')}\n`),
    fatal: (...args: unknown[]) => process.stderr.write(`[test app fatal] ${args.map(String).join(' ')}\n`),
  };
}

export { freePort };

/**
 * The app under test with one admin agent. Admin uids are configured at
 * start and assigned at registration, so the admin registers on a first,
 * throwaway app; its agent URL points at the returned one.
 */
export async function startTestAppWithAdmin(env: Record<string, string> = {}): Promise<{ app: TestApp; admin: RegisteredAgent }> {
  const first = await startTestApp();
  let registered: RegisteredAgent;
  try {
    registered = await registerAgent(first.url, `localhost:${first.port}`);
  } finally {
    await first.close();
  }
  const app = await startTestApp({ ...env, ADMIN_AGENT_UIDS: registered.uid });
  return { app, admin: { ...registered, agentUrl: `http://${registered.uid}.localhost:${app.port}` } };
}
