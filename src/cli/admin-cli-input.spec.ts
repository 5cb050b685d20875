import { DomainError } from '../common/errors/domain-error';
import { commandInput } from './admin-cli-input';

const UID = 'agent-0123456789abcdef01234567';
const KID = 'A'.repeat(43);

/** The DomainError a command's input is refused with (what the CLI prints as `[CODE] message`, exit 1). */
async function refusal(command: string, args: string[], values: Record<string, string> = {}): Promise<{ code: string; message: string }> {
  const error = await commandInput(command, args, values).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  const { code, message } = error as DomainError;
  return { code, message };
}

describe('admin CLI input: the HTTP DTOs and pipe', () => {
  describe('revoke (POST /admin/agents/:uid/keys/:kid/revoke)', () => {
    it('takes a valid uid, kid and reason', async () => {
      await expect(commandInput('revoke', [UID, KID], { reason: 'key leaked' })).resolves.toEqual({ command: 'revoke', uid: UID, kid: KID, reason: 'key leaked' });
      await expect(commandInput('revoke', [UID, KID], { reason: 'x'.repeat(200) })).resolves.toMatchObject({ reason: 'x'.repeat(200) });
    });

    it.each([
      ['ANSI escapes and BEL', 'ok\u001b[2J\u001b[31mFAKE\u0007'],
      ['a NUL', 'a\u0000b'],
      ['a line break', 'first\nsecond'],
      ['a lone surrogate', 'a\ud800b'],
    ])('refuses a reason with %s, as over HTTP', async (_, reason) => {
      expect(await refusal('revoke', [UID, KID], { reason })).toEqual({ code: 'VALIDATION_FAILED', message: 'reason: reason must be plain text without control characters' });
    });

    it('refuses a reason over 200 characters, or none', async () => {
      expect(await refusal('revoke', [UID, KID], { reason: 'x'.repeat(201) })).toEqual({ code: 'VALIDATION_FAILED', message: 'reason: reason must be shorter than or equal to 200 characters' });
      expect(await refusal('revoke', [UID, KID], { reason: '' })).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/^reason: /) });
      expect(await refusal('revoke', [UID, KID])).toEqual({ code: 'VALIDATION_FAILED', message: '--reason is required' });
    });

    it('refuses a malformed uid or kid before the reason, missing ones and extra arguments', async () => {
      expect(await refusal('revoke', ['bob', KID], { reason: 'ok' })).toEqual({ code: 'VALIDATION_FAILED', message: 'uid: uid must be agent-<24 hex>' });
      expect(await refusal('revoke', [UID, 'short'], { reason: '\u001b' })).toEqual({ code: 'VALIDATION_FAILED', message: 'kid: kid must be an RFC 7638 thumbprint' });
      expect(await refusal('revoke', [UID], { reason: 'ok' })).toEqual({ code: 'VALIDATION_FAILED', message: 'kid is required' });
      expect(await refusal('revoke', [UID, KID, 'more'], { reason: 'ok' })).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/^unexpected argument/) });
    });
  });

  it.each(['agent', 'disable', 'enable'])('%s validates the uid as the route param', async (command) => {
    await expect(commandInput(command, [UID], {})).resolves.toEqual({ command, uid: UID });
    expect(await refusal(command, [`${UID}\u001b[2J`])).toEqual({ code: 'VALIDATION_FAILED', message: 'uid: uid must be agent-<24 hex>' });
    expect(await refusal(command, [])).toEqual({ code: 'VALIDATION_FAILED', message: 'uid is required' });
  });

  it('agents validates status and limit as the query', async () => {
    await expect(commandInput('agents', [], {})).resolves.toMatchObject({ query: { limit: 50 } });
    await expect(commandInput('agents', [], { status: 'disabled', limit: '5' })).resolves.toMatchObject({ query: { status: 'disabled', limit: 5 } });
    expect(await refusal('agents', [], { status: 'gone' })).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/^status: /) });
    expect(await refusal('agents', [], { limit: '501' })).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/^limit: /) });
  });

  it('audit validates every filter as the query, dates in range included', async () => {
    await expect(commandInput('audit', [], { agent: UID, outcome: 'failure', from: '2026-01-01T00:00:00Z' })).resolves.toMatchObject({
      query: { agent_uid: UID, outcome: 'failure', from: '2026-01-01T00:00:00Z', limit: 50 },
    });
    for (const [field, value] of [['from', '9999-12-31T23:00:00-01:00'], ['to', '9999-12-31T23:59:59-00:01']]) {
      expect(await refusal('audit', [], { [field]: value })).toEqual({
        code: 'VALIDATION_FAILED',
        message: `${field}: ${field} must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z`,
      });
    }
    expect(await refusal('audit', [], { agent: 'bob' })).toMatchObject({ message: expect.stringMatching(/^agent_uid: /) });
    expect(await refusal('audit', [], { 'error-code': 'x;drop' })).toMatchObject({ message: expect.stringMatching(/^error_code: /) });
    expect(await refusal('audit', [], { limit: '0' })).toMatchObject({ message: expect.stringMatching(/^limit: /) });
  });

  it('commands without input refuse stray arguments; unknown commands are undefined', async () => {
    expect(await refusal('verify-audit', ['now'])).toMatchObject({ code: 'VALIDATION_FAILED', message: 'unexpected argument: "now"' });
    const initCwd = process.env.INIT_CWD;
    process.env.INIT_CWD = '/srv/operator'; // where `npm run admin` was called
    try {
      await expect(commandInput('create-admin', [], {})).resolves.toEqual({ command: 'create-admin', out: '/srv/operator/admin.env' });
      await expect(commandInput('create-admin', [], { out: 'keys/a.env' })).resolves.toEqual({ command: 'create-admin', out: '/srv/operator/keys/a.env' });
      await expect(commandInput('create-admin', [], { out: '/tmp/a.env' })).resolves.toEqual({ command: 'create-admin', out: '/tmp/a.env' });
    } finally {
      if (initCwd === undefined) delete process.env.INIT_CWD;
      else process.env.INIT_CWD = initCwd;
    }
    await expect(commandInput('frobnicate', [], {})).resolves.toBeUndefined();
  });
});
