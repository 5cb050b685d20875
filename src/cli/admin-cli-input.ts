import { resolve } from 'node:path';
import type { Type } from '@nestjs/common';
import { createValidationPipe } from '../common/http/validation.pipe';
import { DomainError } from '../common/errors/domain-error';
import { AuditQueryDto } from '../audit/dto/audit-query.dto';
import { AgentKeyParamDto, AgentListQueryDto, AgentUidParamDto, RevokeKeyDto } from '../registration/dto/agent-admin.dto';

/** The options the CLI reads (parseArgs values). */
export interface CliValues {
  status?: string;
  limit?: string;
  reason?: string;
  agent?: string;
  event?: string;
  outcome?: string;
  'error-code'?: string;
  from?: string;
  to?: string;
  cursor?: string;
}

// The app's global pipe: the CLI validates with the same DTOs, rules and
// messages as the HTTP route of each action, so it stores nothing the API
// would refuse (a reason with control characters, a malformed uid, …).
const pipe = createValidationPipe();

async function validate<T extends object>(metatype: Type<T>, type: 'query' | 'param' | 'body', raw: Record<string, string | undefined>): Promise<T> {
  const plain = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
  return (await pipe.transform(plain, { type, metatype })) as T;
}

function positionals(args: readonly string[], names: readonly string[]): string[] {
  if (args.length > names.length) throw new DomainError('VALIDATION_FAILED', `unexpected argument: ${JSON.stringify(args[names.length]).slice(0, 60)}`);
  return names.map((name, i) => {
    if (!args[i]) throw new DomainError('VALIDATION_FAILED', `${name} is required`);
    return args[i];
  });
}

/** GET /admin/agents */
export function agentsInput(args: readonly string[], values: CliValues): Promise<AgentListQueryDto> {
  positionals(args, []);
  return validate(AgentListQueryDto, 'query', { status: values.status, limit: values.limit, cursor: values.cursor });
}

/** GET /admin/agents/:uid, POST /admin/agents/:uid/disable and /enable */
export function agentInput(args: readonly string[]): Promise<AgentUidParamDto> {
  const [uid] = positionals(args, ['uid']);
  return validate(AgentUidParamDto, 'param', { uid });
}

/** POST /admin/agents/:uid/keys/:kid/revoke with {"reason"}; the params are checked first, as over HTTP. */
export async function revokeInput(args: readonly string[], values: CliValues): Promise<AgentKeyParamDto & RevokeKeyDto> {
  const [uid, kid] = positionals(args, ['uid', 'kid']);
  const params = await validate(AgentKeyParamDto, 'param', { uid, kid });
  if (values.reason === undefined) throw new DomainError('VALIDATION_FAILED', '--reason is required');
  const body = await validate(RevokeKeyDto, 'body', { reason: values.reason });
  return { uid: params.uid, kid: params.kid, reason: body.reason };
}

/** GET /admin/audit-events */
export function auditInput(args: readonly string[], values: CliValues): Promise<AuditQueryDto> {
  positionals(args, []);
  return validate(AuditQueryDto, 'query', {
    agent_uid: values.agent,
    event: values.event,
    outcome: values.outcome,
    error_code: values['error-code'],
    from: values.from,
    to: values.to,
    limit: values.limit,
    cursor: values.cursor,
  });
}

/** Commands without input refuse stray arguments rather than ignore them. */
export function noInput(args: readonly string[]): void {
  positionals(args, []);
}

/** A command with its validated input. */
export type CommandInput =
  | { command: 'create-admin'; out: string }
  | { command: 'agents'; query: AgentListQueryDto }
  | { command: 'agent' | 'disable' | 'enable'; uid: string }
  | { command: 'revoke'; uid: string; kid: string; reason: string }
  | { command: 'audit'; query: AuditQueryDto }
  | { command: 'verify-audit' };

/**
 * Validates a command's input before anything connects to the database;
 * undefined for an unknown command. Throws VALIDATION_FAILED naming the
 * first offending field, as the HTTP API answers.
 */
export async function commandInput(command: string, args: readonly string[], values: CliValues & { out?: string }): Promise<CommandInput | undefined> {
  switch (command) {
    case 'create-admin':
      noInput(args);
      // Relative to where the operator ran `npm run admin` (npm runs scripts from the package root).
      return { command, out: resolve(process.env.INIT_CWD ?? process.cwd(), values.out ?? 'admin.env') };
    case 'agents':
      return { command, query: await agentsInput(args, values) };
    case 'agent':
    case 'disable':
    case 'enable':
      return { command, uid: (await agentInput(args)).uid };
    case 'revoke':
      return { command, ...(await revokeInput(args, values)) };
    case 'audit':
      return { command, query: await auditInput(args, values) };
    case 'verify-audit':
      noInput(args);
      return { command };
    default:
      return undefined;
  }
}
