import 'reflect-metadata';
import { generateKeyPairSync } from 'node:crypto';
import { closeSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../app.module';
import { AppConfig, loadAppConfig, loadDotEnv } from '../config/app-config';
import { ConfigValidationError } from '../config/env.validation';
import { DomainError } from '../common/errors/domain-error';
import { AdminActor, NO_REQUEST } from '../audit/audit-entry';
import { AuditAdminService } from '../audit/audit-admin.service';
import { AgentAdminService } from '../registration/agent-admin.service';
import { RegistrationService } from '../registration/registration.service';
import { jwkThumbprint } from '../verification/core/jwk';
import { formatTable } from './table';
import { protectKids } from './admin-cli-args';
import { CommandInput, commandInput } from './admin-cli-input';

const USAGE = `Operator CLI of the vestauth authority (same services as the HTTP API, same database).

Usage: npm run admin -- <command> [options]

  create-admin [--out FILE]            create an agent for an administrator: writes its vestauth .env
                                       (AGENT_UID, keys, AGENT_HOSTNAME; mode 600; default ./admin.env)
                                       and prints the uid to add to ADMIN_AGENT_UIDS
  agents [--status S] [--limit N] [--cursor C]
                                       list agents, newest first (a full page ends with the --cursor of the next)
  agent <uid>                          one agent: keys and last events
  revoke <uid> <kid> --reason TEXT     revoke a key
  disable <uid> | enable <uid>         disable or re-enable an agent
  audit [--agent UID] [--event E] [--outcome O] [--error-code C] [--from ISO] [--to ISO] [--limit N] [--cursor C]
                                       audit events as a table, newest first
  verify-audit                         recompute the audit hash chain (exit 1 when broken)

It uses the service's configuration (environment, .env). With the embedded database, stop the
service first: one process per DATA_DIR.`;

const OPTIONS = {
  out: { type: 'string' },
  status: { type: 'string' },
  limit: { type: 'string' },
  reason: { type: 'string' },
  agent: { type: 'string' },
  event: { type: 'string' },
  outcome: { type: 'string' },
  'error-code': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  cursor: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: protectKids(argv), options: OPTIONS, allowPositionals: true });
  const [command, ...args] = positionals;
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const input = await commandInput(command, args, values);
  if (!input) {
    process.stderr.write(`Unknown command: ${command}\n\n${USAGE}\n`);
    return 2;
  }
  loadDotEnv();
  const config = loadAppConfig();
  const app = await NestFactory.createApplicationContext(AppModule.forRoot(config), { logger: ['error', 'warn'] });
  try {
    return await run(app, config, input);
  } finally {
    await app.close();
  }
}

/** Runs a command whose input is already validated (admin-cli-input.ts). */
async function run(app: INestApplicationContext, config: AppConfig, input: CommandInput): Promise<number> {
  const actor: AdminActor = { uid: `cli:${userInfo().username}`.slice(0, 30), kid: null, context: { ...NO_REQUEST, method: 'CLI', path: input.command } };
  const agents = app.get(AgentAdminService);
  switch (input.command) {
    case 'create-admin':
      return createAdmin(app, config, actor, input.out);
    case 'agents': {
      const page = await agents.list(actor, input.query);
      print(formatTable(page.agents, ['uid', 'status', 'active_keys', 'created_at', 'disabled_at']));
      printNextPage(page.next_cursor);
      return 0;
    }
    case 'agent': {
      const detail = await agents.detail(actor, input.uid);
      print(formatTable([detail.agent], ['uid', 'status', 'active_keys', 'created_at', 'disabled_at']));
      print(formatTable(detail.keys, ['kid', 'status', 'created_at', 'revoked_at', 'revoked_reason']));
      print(formatTable(detail.events, ['id', 'occurred_at', 'event', 'outcome', 'error_code', 'path']));
      return 0;
    }
    case 'revoke': {
      const key = await agents.revoke(actor, input.uid, input.kid, input.reason);
      print(formatTable([key], ['kid', 'status', 'revoked_at', 'revoked_reason']));
      return 0;
    }
    case 'disable':
    case 'enable': {
      const agent = await agents.setStatus(actor, input.uid, input.command === 'disable' ? 'disabled' : 'active');
      print(formatTable([agent], ['uid', 'status', 'disabled_at']));
      return 0;
    }
    case 'audit': {
      const page = await app.get(AuditAdminService).page(actor, input.query);
      print(formatTable(page.events, ['id', 'occurred_at', 'event', 'outcome', 'error_code', 'agent_uid', 'method', 'path', 'ip']));
      printNextPage(page.next_cursor);
      return 0;
    }
    case 'verify-audit': {
      const report = await app.get(AuditAdminService).verifyChain(actor);
      print(JSON.stringify(report));
      return report.ok ? 0 : 1;
    }
  }
}

/** A key pair made here; only the public half reaches the database. The .env is the operator's to keep. */
async function createAdmin(app: INestApplicationContext, config: AppConfig, actor: AdminActor, out: string): Promise<number> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pub = publicKey.export({ format: 'jwk' });
  const kid = jwkThumbprint(pub);
  const publicJwk = { kty: 'OKP' as const, crv: 'Ed25519' as const, x: String(pub.x), kid };
  // The file first (exclusive, 600): an agent whose private key could not be kept must not be registered.
  const file = openSync(out, 'wx', 0o600);
  let registered: { uid: string };
  try {
    registered = await app.get(RegistrationService).registerByOperator(actor, publicJwk);
  } catch (error) {
    closeSync(file);
    unlinkSync(out);
    throw error;
  }
  const env = [
    '# vestauth agent created by the authority operator CLI',
    `AGENT_UID="${registered.uid}"`,
    `AGENT_PUBLIC_JWK="${JSON.stringify({ crv: 'Ed25519', x: publicJwk.x, kty: 'OKP', kid })}"`,
    `AGENT_PRIVATE_JWK="${JSON.stringify({ ...privateKey.export({ format: 'jwk' }), kid })}"`,
    `AGENT_HOSTNAME="${config.publicUrl.origin}"`,
    '',
  ].join('\n');
  try {
    writeFileSync(file, env);
  } finally {
    closeSync(file);
  }
  print(`Created ${registered.uid}; its private key is in ${out} (mode 600; keep it there, it is not stored anywhere else).`);
  print(`Add it to ADMIN_AGENT_UIDS and restart the authority:\n  ADMIN_AGENT_UIDS=${[...config.adminAgentUids, registered.uid].join(',')}`);
  print(`Then, in the directory holding that file as .env: npx vestauth agent curl ${config.publicUrl.origin}/admin/audit-events`);
  return 0;
}

/** A page of a listing is followed by how to ask for the next one. */
function printNextPage(cursor: string | null): void {
  if (cursor !== null) print(`More: repeat with --cursor ${cursor}`);
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigValidationError || error instanceof DomainError) {
      process.stderr.write(`${error instanceof DomainError ? `[${error.code}] ` : ''}${error.message}\n`);
    } else {
      process.stderr.write(`Failed: ${error instanceof Error ? error.message : String(error)}\n`);
    }
    process.exit(1);
  },
);
