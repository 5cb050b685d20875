import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { VerificationModuleOptions } from '../../src/verification/verification.module';
import { createInternalApi } from './internal-api';

/**
 * Configuration from the environment:
 *   AUTHORITY_URL         the vestauth authority whose agents may call (default http://localhost:3000)
 *   PORT                  where to listen (default 4000)
 *   PUBLIC_URL            this API's origin as agents address it (default http://localhost:<PORT>)
 *   ACCEPTED_AUTHORITIES  more host[:port] names this API is reached by, comma-separated
 */
function verificationOptionsFromEnv(env: NodeJS.ProcessEnv, port: number): VerificationModuleOptions {
  const authorityUrl = parseUrl('AUTHORITY_URL', env.AUTHORITY_URL ?? 'http://localhost:3000');
  const publicUrl = parseUrl('PUBLIC_URL', env.PUBLIC_URL ?? `http://localhost:${port}`);
  const extra = (env.ACCEPTED_AUTHORITIES ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  // An authority on this machine over plain http is a developer's setup;
  // only then may its agents' directories be fetched over http on loopback.
  // A real authority is https on a public name and keeps both off.
  const localDevelopment = authorityUrl.protocol === 'http:' && isLoopbackName(authorityUrl.hostname);
  return {
    authorityUrl: authorityUrl.origin,
    acceptedAuthorities: [publicUrl.host, ...extra],
    allowInsecureLocalhost: localDevelopment,
    allowPrivateNetworks: localDevelopment,
  };
}

function parseUrl(name: string, value: string): URL {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // reported below, with the variable's name
  }
  throw new ConfigError(`${name} must be an http(s) URL, got "${value.slice(0, 100)}"`);
}

function isLoopbackName(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname.startsWith('127.') || hostname === '[::1]';
}

function parsePort(value: string | undefined): number {
  const port = Number(value ?? '4000');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`PORT must be 1-65535, got "${value}"`);
  return port;
}

class ConfigError extends Error {}

async function main(): Promise<void> {
  let port: number;
  let verification: VerificationModuleOptions;
  try {
    port = parsePort(process.env.PORT);
    verification = verificationOptionsFromEnv(process.env, port);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
  const app = await createInternalApi(verification);
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.listen(port, '0.0.0.0');
  new Logger('InternalApi').log(
    `internal API listening on port ${port}; accepts signatures for ${verification.acceptedAuthorities.join(', ')} from agents of ${verification.authorityUrl}`,
  );
}

main().catch((error: unknown) => {
  new Logger('InternalApi').fatal(`Failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
