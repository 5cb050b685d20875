import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * The embedded default: PGlite (PostgreSQL compiled to WASM) persisted under
 * a data directory, served on a loopback socket so the app uses the ordinary
 * `pg` driver and the same TypeORM code path as with a real server.
 *
 * Limits: one process only (PGlite has no lock: never open one directory
 * from two processes), one statement at a time (an open transaction blocks
 * the others, so transactions must stay short).
 */
export class EmbeddedPostgres {
  private readonly logger = new Logger(EmbeddedPostgres.name);
  private db?: PGlite;
  private server?: PGLiteSocketServer;
  private lockFile?: string;

  constructor(
    private readonly dataDir: string,
    private readonly maxConnections: number,
  ) {}

  /** Opens (or creates) the database and returns a postgres:// URL for it. */
  async start(): Promise<string> {
    const dir = resolve(this.dataDir);
    mkdirSync(dir, { recursive: true });
    this.lock(dir);
    const started = Date.now();
    this.logger.log(`Opening embedded PostgreSQL (PGlite) in ${dir}`);
    const { PGlite } = await import('@electric-sql/pglite');
    const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
    this.db = await PGlite.create({ dataDir: dir });
    // Port 0: the OS picks a free loopback port; nothing outside this host can reach it.
    this.server = new PGLiteSocketServer({ db: this.db, host: '127.0.0.1', port: 0, maxConnections: this.maxConnections });
    await this.server.start();
    const address = this.server.getServerConn();
    this.logger.log(`Embedded PostgreSQL ready in ${Date.now() - started} ms`);
    return `postgres://postgres@${address}/postgres?sslmode=disable`;
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    await this.db?.close();
    this.server = undefined;
    this.db = undefined;
    if (this.lockFile) rmSync(this.lockFile, { force: true });
    this.lockFile = undefined;
  }

  /**
   * PGlite has no lock of its own and two processes on one directory corrupt
   * it: take a pid lock file, refusing while its owner is alive, taking it
   * over when the owner died (SIGKILL leaves the file behind).
   */
  private lock(dir: string): void {
    const file = join(dir, 'vestauth.lock');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, 'wx', 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        this.lockFile = file;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const owner = Number(readFileSync(file, 'utf8').trim());
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
          throw new Error(`The embedded database in ${dir} is in use by process ${owner}; stop it first (one process per DATA_DIR)`);
        }
        rmSync(file, { force: true });
      }
    }
    throw new Error(`Could not lock ${dir}`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
