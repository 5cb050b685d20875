import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * The real vestauth 0.21.1 CLI. The package's `exports` hide `src/cli`, so
 * the script is found next to its package.json.
 */
const CLI_SCRIPT = join(dirname(require.resolve('vestauth/package.json')), 'src', 'cli', 'vestauth.js');

/** Loading the CLI takes ~0.7 s; `agent curl` also spawns curl. */
const DEFAULT_TIMEOUT_MS = 30_000;

export interface CliResult {
  /** Process exit code (null when killed by the timeout). */
  code: number | null;
  /** stdout and stderr without ANSI colours: the CLI colours even when not on a TTY. */
  stdout: string;
  stderr: string;
}

/**
 * The CLI reads process.env before `.env` (dotenvx), so an AGENT_* variable
 * of the developer's shell would override the agent under test; DATABASE_URL
 * is dropped so the CLI never sees the test database.
 */
function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('AGENT_') || name === 'DATABASE_URL') continue;
    env[name] = value;
  }
  return env;
}

const ANSI = /\x1b\[[0-9;]*m/g;

/** Runs `vestauth <args>` with `cwd` as the agent's directory. Never rejects on a non-zero exit. */
export function runVestauth(cwd: string, args: string[], timeoutMs = DEFAULT_TIMEOUT_MS): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI_SCRIPT, ...args], { cwd, env: cliEnv(), timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number' && !error.killed) {
        reject(error);
        return;
      }
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout: stdout.replace(ANSI, ''), stderr: stderr.replace(ANSI, '') });
    });
  });
}

/** A fresh, empty directory for one agent's `.env`. */
export function makeAgentDir(): string {
  return mkdtempSync(join(tmpdir(), 'vestauth-cli-agent-'));
}

export function removeAgentDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface AgentEnv {
  AGENT_UID: string;
  AGENT_PUBLIC_JWK: Record<string, string>;
  AGENT_PRIVATE_JWK: Record<string, string>;
  AGENT_HOSTNAME: string;
}

/**
 * Reads the `.env` the CLI wrote. dotenvx writes `KEY="value"` with the JSON
 * value unescaped (`AGENT_PUBLIC_JWK="{"crv":…}"`), so each value is the
 * text between the first and the last quote of its line.
 */
export function readAgentEnv(dir: string): AgentEnv {
  const values = new Map<string, string>();
  for (const line of readFileSync(join(dir, '.env'), 'utf8').split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    const raw = match[2];
    values.set(match[1], raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw);
  }
  const get = (name: string): string => {
    const value = values.get(name);
    if (value === undefined) throw new Error(`${name} missing from ${dir}/.env`);
    return value;
  };
  return {
    AGENT_UID: get('AGENT_UID'),
    AGENT_PUBLIC_JWK: JSON.parse(get('AGENT_PUBLIC_JWK')) as Record<string, string>,
    AGENT_PRIVATE_JWK: JSON.parse(get('AGENT_PRIVATE_JWK')) as Record<string, string>,
    AGENT_HOSTNAME: get('AGENT_HOSTNAME'),
  };
}
