import { parseArgs } from 'node:util';
import { protectKids } from './admin-cli-args';

describe(protectKids.name, () => {
  it('keeps a kid that starts with "-" positional', () => {
    const kid = `-j${'A'.repeat(41)}`;
    const { positionals, values } = parseArgs({
      args: protectKids(['revoke', 'agent-0123456789abcdef01234567', kid, '--reason', 'leaked']),
      options: { reason: { type: 'string' } },
      allowPositionals: true,
    });
    expect(positionals).toEqual(['revoke', 'agent-0123456789abcdef01234567', kid]);
    expect(values.reason).toBe('leaked');
  });

  it('leaves other arguments alone', () => {
    expect(protectKids(['agents', '--limit', '5'])).toEqual(['agents', '--limit', '5']);
  });
});
