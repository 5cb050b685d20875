import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'pg-connection-string';
import { ConfigValidationError } from '../config/env.validation';
import { ensurePrivateDirectory, socketUrl } from './embedded-postgres';

const modeOf = (path: string): number => statSync(path).mode & 0o777;

describe('ensurePrivateDirectory (DATA_DIR of the embedded database)', () => {
  let base: string;
  let umask: number;

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'vestauth-private-dir-'));
    // The most permissive umask: nothing may depend on the operator's.
    umask = process.umask(0);
  });

  afterEach(() => {
    process.umask(umask);
    rmSync(base, { recursive: true, force: true });
  });

  it('creates a missing directory (and its parents) with mode 0700', () => {
    const dir = join(base, 'a', 'data');
    expect(ensurePrivateDirectory(dir, 'DATA_DIR')).toBeUndefined();
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(join(base, 'a'))).toBe(0o700);
  });

  it.each(['777', '755', '750', '701'])('tightens an existing directory of mode %s to 0700 and returns the old mode', (octal) => {
    const mode = parseInt(octal, 8);
    const dir = join(base, 'data');
    mkdirSync(dir);
    chmodSync(dir, mode);
    expect(ensurePrivateDirectory(dir, 'DATA_DIR')).toBe(mode);
    expect(modeOf(dir)).toBe(0o700);
  });

  it('leaves a private directory alone', () => {
    const dir = join(base, 'data');
    mkdirSync(dir);
    chmodSync(dir, 0o700);
    expect(ensurePrivateDirectory(dir, 'DATA_DIR')).toBeUndefined();
    expect(modeOf(dir)).toBe(0o700);
  });

  it('refuses a path that is a file', () => {
    const file = join(base, 'data');
    writeFileSync(file, '');
    expect(() => ensurePrivateDirectory(file, 'DATA_DIR')).toThrow(ConfigValidationError);
    expect(() => ensurePrivateDirectory(file, 'DATA_DIR')).toThrow(new ConfigValidationError('DATA_DIR', `${file} is not a directory (a file is in the way)`));
    expect(() => ensurePrivateDirectory(join(file, 'below'), 'DATA_DIR')).toThrow(new ConfigValidationError('DATA_DIR', `${join(file, 'below')} is not a directory (a file is in the way)`));
  });

  it('refuses a directory owned by another user, and leaves its mode as it was', () => {
    // Only root can hand a directory to another user; anyone else is refused the root directory.
    let dir = '/';
    if (process.getuid?.() === 0) {
      dir = join(base, 'data');
      mkdirSync(dir);
      chmodSync(dir, 0o755);
      chownSync(dir, 65534, 65534);
    }
    const { uid: owner, mode } = statSync(dir);
    expect(owner).not.toBe(process.getuid?.());
    expect(() => ensurePrivateDirectory(dir, 'DATA_DIR')).toThrow(
      new ConfigValidationError('DATA_DIR', `${dir} belongs to uid ${owner}, not to this process's user (uid ${process.getuid?.()}): run the service as its owner, or set DATA_DIR to a directory it creates itself (e.g. a subdirectory)`),
    );
    expect(statSync(dir).mode).toBe(mode);
  });
});

describe('socketUrl', () => {
  it('names the socket directory as pg reads it (host, port 5432: the file .s.PGSQL.5432), with no TCP host', () => {
    const dir = '/tmp/some dir/with%odd&chars/socket';
    const url = socketUrl(dir);
    expect(url).not.toMatch(/\s/); // DATABASE_URL's validation allows no whitespace
    expect(parse(url)).toMatchObject({ host: dir, port: '5432', user: 'postgres', database: 'postgres' });
  });
});
