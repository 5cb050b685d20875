import { redact } from './database-endpoint';

describe(redact.name, () => {
  it('hides a password in the userinfo', () => {
    expect(redact('postgres://app:S3cret@db.internal:5432/authority')).toBe('postgres://app:***@db.internal:5432/authority');
  });

  it.each(['password', 'PASSWORD', 'sslpassword', 'sslkey'])('hides a secret given as the %s query parameter', (name) => {
    const logged = redact(`postgres://app@db.internal/authority?${name}=S3cret&sslmode=require`);
    expect(logged).not.toContain('S3cret');
    expect(logged).toContain('sslmode=require');
  });

  it('never echoes an unparsable URL', () => {
    expect(redact('postgres://app:S3cret@[bad')).toBe('<unparsable DATABASE_URL>');
  });
});
