import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Logger } from '@nestjs/common';
import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { ConfigValidationError } from '../config/env.validation';

/**
 * pg connects to `<host>/.s.PGSQL.<port>` when host is a directory: the URL
 * names this port, the socket file is named after it.
 */
const SOCKET_PORT = 5432;
const SOCKET_FILE = `.s.PGSQL.${SOCKET_PORT}`;
/** The socket directory inside DATA_DIR (removed at stop; a SIGKILL leaves it, the next start replaces it). */
const SOCKET_SUBDIR = 'socket';
/** sockaddr_un.sun_path holds 108 bytes on Linux (104 on macOS and the BSDs), the final NUL included. */
const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

/**
 * The embedded default: PGlite (PostgreSQL compiled to WASM) persisted under
 * a data directory, served on a Unix socket so the app uses the ordinary
 * `pg` driver and the same TypeORM code path as with a real server.
 *
 * Access control is the file system's: PGlite has no authentication (every
 * client is the superuser), so DATA_DIR and the socket directory are mode
 * 0700 and only this OS user can connect or read the files. Nothing listens
 * on TCP.
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
  private socketDir?: string;

  constructor(
    private readonly dataDir: string,
    private readonly maxConnections: number,
  ) {}

  /**
   * Opens (or creates) the database and returns a postgres:// URL for it
   * (`?host=<socket directory>`, which pg and psql understand). Throws
   * ConfigValidationError when DATA_DIR cannot be made private.
   */
  async start(): Promise<string> {
    const dir = resolve(this.dataDir);
    const tightened = ensurePrivateDirectory(dir, 'DATA_DIR');
    if (tightened !== undefined) {
      this.logger.warn(`DATA_DIR ${dir} was mode ${tightened.toString(8)}: made it 0700 (only this user may read the database or connect to it)`);
    }
    this.lock(dir);
    try {
      const started = Date.now();
      this.logger.log(`Opening embedded PostgreSQL (PGlite) in ${dir}`);
      const { PGlite } = await import('@electric-sql/pglite');
      const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
      this.db = await PGlite.create({ dataDir: dir });
      this.socketDir = this.prepareSocketDirectory(dir);
      const socketPath = join(this.socketDir, SOCKET_FILE);
      this.server = new PGLiteSocketServer({ db: this.db, path: socketPath, maxConnections: this.maxConnections });
      await this.server.start();
      // The private directory is the barrier; the file mode is a second one.
      chmodSync(socketPath, 0o600);
      this.logger.log(`Embedded PostgreSQL ready in ${Date.now() - started} ms`);
      return socketUrl(this.socketDir);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    await this.db?.close();
    this.server = undefined;
    this.db = undefined;
    if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
    this.socketDir = undefined;
    if (this.lockFile) rmSync(this.lockFile, { force: true });
    this.lockFile = undefined;
  }

  /**
   * A fresh 0700 directory for the socket: inside DATA_DIR when the socket
   * path fits in sun_path, else a private mkdtemp directory under the OS
   * temporary directory. Whatever a SIGKILL left behind is removed first
   * (a stale socket file makes listen() fail with EADDRINUSE); the lock
   * taken before this says no live process is using it.
   */
  private prepareSocketDirectory(dataDir: string): string {
    const inside = join(dataDir, SOCKET_SUBDIR);
    rmSync(inside, { recursive: true, force: true });
    if (fitsSocketPath(inside)) {
      mkdirSync(inside, { mode: 0o700 });
      chmodSync(inside, 0o700);
      return inside;
    }
    const outside = mkdtempSync(join(tmpdir(), 'vestauth-pg-'));
    chmodSync(outside, 0o700);
    if (!fitsSocketPath(outside)) {
      rmSync(outside, { recursive: true, force: true });
      throw new Error(`No socket directory short enough for the embedded database: set TMPDIR to a shorter path than ${tmpdir()}`);
    }
    this.logger.log(`DATA_DIR's path is too long for a Unix socket; the embedded database's socket is in ${outside}`);
    return outside;
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
          // An operator's mistake, as a bad DATA_DIR is: one line and exit 78 (database.module.ts), no stack trace.
          throw new ConfigValidationError('DATA_DIR', `the embedded database in ${dir} is in use by process ${owner}; stop it first (one process per DATA_DIR)`);
        }
        rmSync(file, { force: true });
      }
    }
    throw new Error(`Could not lock ${dir}`);
  }
}

/** The connection URL of a socket directory: pg reads `host` from the query string, psql too. */
export function socketUrl(socketDir: string): string {
  return `postgres://postgres@localhost:${SOCKET_PORT}/postgres?host=${encodeURIComponent(socketDir)}&sslmode=disable`;
}

function fitsSocketPath(socketDir: string): boolean {
  return Buffer.byteLength(join(socketDir, SOCKET_FILE)) <= MAX_SOCKET_PATH_BYTES;
}

/**
 * Creates `dir` with mode 0700, or makes an existing one 0700, so that no
 * other user can read or traverse it whatever the modes of the files inside
 * (PGlite writes them 0666 under umask 022). Returns the previous mode when
 * it had to be tightened. Throws ConfigValidationError naming `variable`
 * when the directory belongs to another user or stays open to others.
 */
export function ensurePrivateDirectory(dir: string, variable: string): number | undefined {
  const refuse = (detail: string): never => {
    throw new ConfigValidationError(variable, `${dir} ${detail}`);
  };
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // mkdir -p fails with EEXIST (or ENOTDIR on the way) when the path, or one above it, is a file.
    if (code === 'EEXIST' || code === 'ENOTDIR') refuse('is not a directory (a file is in the way)');
    refuse(`cannot be created (${code ?? (error as Error).message})`);
  }
  const before = statSync(dir);
  if (!before.isDirectory()) refuse('is not a directory');
  const uid = process.getuid?.();
  // Windows has no uid and no POSIX modes: nothing to check there.
  if (uid === undefined) return undefined;
  if (before.uid !== uid) {
    refuse(`belongs to uid ${before.uid}, not to this process's user (uid ${uid}): run the service as its owner, or set DATA_DIR to a directory it creates itself (e.g. a subdirectory)`);
  }
  const mode = before.mode & 0o777;
  if ((mode & 0o077) === 0) return undefined;
  try {
    chmodSync(dir, 0o700);
  } catch (error) {
    refuse(`is mode ${mode.toString(8)} and cannot be made private (chmod 700: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  // Some file systems (vfat, some network mounts) accept chmod and ignore it.
  if ((statSync(dir).mode & 0o077) !== 0) refuse(`is mode ${mode.toString(8)} and stays open to other users after chmod 700 (file system without POSIX modes?)`);
  return mode;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
