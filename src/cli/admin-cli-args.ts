/**
 * A kid is base64url, so it may start with '-' and would read as an option:
 * such arguments go after a `--` terminator, where they stay positional
 * (in their order, after the ones before them, e.g. `revoke <uid> <kid>`).
 */
export function protectKids(argv: readonly string[]): string[] {
  const isKid = (arg: string) => /^-[A-Za-z0-9_-]{42}$/.test(arg);
  const kids = argv.filter(isKid);
  return kids.length === 0 || argv.includes('--') ? [...argv] : [...argv.filter((a) => !isKid(a)), '--', ...kids];
}
