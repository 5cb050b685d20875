import { createValidationPipe } from '../../common/http/validation.pipe';
import { DomainError } from '../../common/errors/domain-error';
import { AuditQueryDto, AuditSummaryQueryDto, isTimestampInRange } from './audit-query.dto';

/** Through the app's global pipe, as GET /admin/audit-events and the admin CLI read them. */
async function validate(metatype: typeof AuditSummaryQueryDto, query: Record<string, string>): Promise<unknown> {
  return createValidationPipe().transform(query, { type: 'query', metatype });
}

describe('audit query dates', () => {
  // The UTC instant is in year 10000: PostgreSQL refused it with a 500.
  const outOfRange = ['9999-12-31T23:00:00-01:00', '9999-12-31T23:59:59-00:01', '9999-12-31T23:30:00.5-00:30'];
  const inRange = ['0100-01-01T00:00:00+01:00', '9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999999Z', '9999-12-31T22:00:00-01:00', '9999-12-31', '2026-01-01T00:00:00Z'];

  it.each(outOfRange)('refuses %s as from and to with 400 VALIDATION_FAILED', async (value) => {
    for (const metatype of [AuditQueryDto, AuditSummaryQueryDto]) {
      for (const field of ['from', 'to']) {
        const error = await validate(metatype, { [field]: value }).then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(DomainError);
        expect(error).toMatchObject({ code: 'VALIDATION_FAILED', status: 400, message: `${field}: ${field} must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z` });
      }
    }
  });

  it.each(inRange)('accepts %s', async (value) => {
    await expect(validate(AuditQueryDto, { from: value, to: value })).resolves.toMatchObject({ from: value, to: value });
    // What the repository sends PostgreSQL: a plain four-digit-year ISO string.
    expect(new Date(value).toISOString()).toMatch(/^\d{4}-/);
  });

  it('still names a malformed timestamp as such', async () => {
    await expect(validate(AuditQueryDto, { from: 'yesterday' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/^from: from must be/) });
  });

  it('bounds the instant to years 0001-9999 in UTC', () => {
    expect(isTimestampInRange('0001-01-01T00:00:00Z')).toBe(true);
    expect(isTimestampInRange('9999-12-31T23:59:59.999Z')).toBe(true);
    expect(isTimestampInRange('0001-01-01T00:00:00+01:00')).toBe(false);
    expect(isTimestampInRange('0000-06-15')).toBe(false);
    expect(isTimestampInRange('9999-12-31T23:00:00-01:00')).toBe(false);
    expect(isTimestampInRange(undefined)).toBe(false);
  });
});
