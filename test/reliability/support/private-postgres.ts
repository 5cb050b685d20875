import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, QueryResultRow } from 'pg';
import { freePort } from './service-process';

const run = promisify(execFile);

/** The machine's PostgreSQL 15 (Debian layout); PG15_BIN_DIR points elsewhere. */
const BIN_DIR = process.env.PG15_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
const OS_USER = 'postgres';

/**
 * A throwaway PostgreSQL 15 cluster that only this test uses, so it can be
 * killed mid-run without disturbing anyone. PostgreSQL refuses to run as
 * root: when the tests run as root the cluster belongs to the `postgres` OS
 * user and initdb/pg_ctl run through runuser. It listens on 127.0.0.1 and a
 * free port, trust auth, its unix socket inside its own directory.
 */
export class PrivatePostgres {
  private running = false;
  private frozen = false;

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  static async create(): Promise<PrivatePostgres> {
    for (const tool of ['initdb', 'pg_ctl']) {
      if (!existsSync(join(BIN_DIR, tool))) throw new Error(`${tool} not found in ${BIN_DIR} (set PG15_BIN_DIR)`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'vestauth-private-pg-'));
    const cluster = new PrivatePostgres(dir, await freePort());
    try {
      if (asRoot()) chownSync(dir, osUserId('-u'), osUserId('-g'));
      await cluster.pg('initdb', ['-D', cluster.dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    return cluster;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Starts (or restarts, after a crash: PostgreSQL replays its WAL) on the same port. */
  async start(): Promise<void> {
    const options = `-c listen_addresses=127.0.0.1 -c port=${this.port} -c unix_socket_directories=${this.dir}`;
    await this.pg('pg_ctl', ['-D', this.dataDir, '-l', join(this.dir, 'postgres.log'), '-o', options, '-w', '-t', '30', 'start']);
    this.running = true;
  }

  /** `immediate` is a crash as far as clients can tell: every backend dies at once, no checkpoint. */
  async stop(mode: 'immediate' | 'fast' = 'immediate'): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '30', 'stop']);
    this.running = false;
  }

  /**
   * SIGSTOP to the postmaster and every backend: the server keeps its
   * sockets open but answers nothing (a frozen host, a partition), so only
   * the client's timeouts can end a request. `thaw()` resumes it.
   */
  freeze(): void {
    this.signalAll('SIGSTOP');
    this.frozen = true;
  }

  thaw(): void {
    this.signalAll('SIGCONT');
    this.frozen = false;
  }

  async query<T extends QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: this.url(), connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** The server log, for failure messages. */
  log(): string {
    const path = join(this.dir, 'postgres.log');
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  /** Stops the cluster if it runs and removes its directory: for afterAll, after a failure too. */
  async destroy(): Promise<void> {
    try {
      if (this.frozen) this.thaw();
      if (this.running || existsSync(join(this.dataDir, 'postmaster.pid'))) await this.stop('immediate');
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** The postmaster first, so that it forks no new backend while the others are signalled. */
  private signalAll(signal: 'SIGSTOP' | 'SIGCONT'): void {
    const postmaster = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postmaster, signal);
    const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)], { encoding: 'utf8' });
    for (const pid of children.split('\n').map((line) => Number(line.trim())).filter((pid) => pid > 0)) {
      try {
        process.kill(pid, signal);
      } catch (error) {
        // A backend that ended since the listing (its client gave up) needs no signal.
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
  }

  private async pg(tool: 'initdb' | 'pg_ctl', args: string[]): Promise<void> {
    const binary = join(BIN_DIR, tool);
    const [command, argv] = asRoot() ? ['runuser', ['-u', OS_USER, '--', binary, ...args]] : [binary, args];
    try {
      await run(command, argv, { cwd: this.dir, timeout: 60_000 });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(`${tool} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}\n${this.log()}`);
    }
  }
}

function asRoot(): boolean {
  return process.getuid?.() === 0;
}

function osUserId(flag: '-u' | '-g'): number {
  return Number(execFileSync('id', [flag, OS_USER], { encoding: 'utf8' }).trim());
}
