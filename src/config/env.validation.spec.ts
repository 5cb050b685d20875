import { ConfigValidationError, invalidTrustProxyEntry, validateEnvironment } from './env.validation';

describe(validateEnvironment.name, () => {
  it('fills safe defaults: nothing trusted, nobody admin', () => {
    const env = validateEnvironment({});
    expect(env).toMatchObject({ PORT: 3000, TRUSTED_AGENT_DOMAINS: '', ADMIN_AGENT_UIDS: '', REQUIRE_NONCE: true, TRUST_PROXY: 'false', CLOCK_SKEW_SECONDS: 30 });
  });

  it.each([
    ['PORT', 'abc'],
    ['PUBLIC_URL', 'notaurl'],
    ['ADMIN_AGENT_UIDS', 'bob'],
    ['TRUSTED_AGENT_DOMAINS', 'https://x'],
    ['CLOCK_SKEW_SECONDS', '-1'],
    ['KEY_CACHE_IMPORTED_KEYS', '0'],
  ])('names the variable of a bad value (%s=%s)', (name, value) => {
    expect(() => validateEnvironment({ [name]: value })).toThrow(new RegExp(`^Invalid configuration: ${name}: `));
  });

  it('names the type a value of the wrong type should have, not one of its bounds', () => {
    expect(() => validateEnvironment({ PORT: 'abc' })).toThrow(new ConfigValidationError('PORT', 'PORT must be a whole number from 0 to 65535 (got "abc")'));
    expect(() => validateEnvironment({ PORT: '70000' })).toThrow(/^Invalid configuration: PORT: /);
  });

  it('keeps 20,000 imported keys by default, fewer than key rows (each holds OpenSSL memory); an operator may keep more', () => {
    expect(validateEnvironment({})).toMatchObject({ KEY_CACHE_MAX_ENTRIES: 100_000, KEY_CACHE_IMPORTED_KEYS: 20_000 });
    expect(validateEnvironment({ KEY_CACHE_IMPORTED_KEYS: '100000' }).KEY_CACHE_IMPORTED_KEYS).toBe(100_000);
  });

  it('never echoes DATABASE_URL, which may hold a password', () => {
    expect(() => validateEnvironment({ DATABASE_URL: 'mysql://u:secret@h/db' })).toThrow(ConfigValidationError);
    expect(() => validateEnvironment({ DATABASE_URL: 'mysql://u:secret@h/db' })).not.toThrow(/secret/);
  });

  it('keeps remote discovery HTTPS-only in production', () => {
    expect(() => validateEnvironment({ NODE_ENV: 'production', REMOTE_ALLOW_INSECURE_LOCALHOST: 'true' })).toThrow(/REMOTE_ALLOW_INSECURE_LOCALHOST/);
    expect(validateEnvironment({ NODE_ENV: 'development', REMOTE_ALLOW_INSECURE_LOCALHOST: 'true' }).REMOTE_ALLOW_INSECURE_LOCALHOST).toBe(true);
  });
});

describe(invalidTrustProxyEntry.name, () => {
  it.each(['false', 'true', '1', ' 2 ', 'loopback', 'loopback, 10.0.0.0/8', '10.0.0.1', '192.168.0.0/255.255.0.0', 'fd00::/8, uniquelocal', '::1'])(
    'accepts %s, as Express does',
    (value) => {
      expect(invalidTrustProxyEntry(value)).toBeUndefined();
      expect(validateEnvironment({ TRUST_PROXY: value }).TRUST_PROXY).toBe(value);
    },
  );

  it.each([
    ['dead', 'dead'],
    [',', ''],
    ['10.0.0.1,', ''],
    ['10.0.0.0/33', '10.0.0.0/33'],
    ['::/129', '::/129'],
    ['10.0.0.0/8/8', '10.0.0.0/8/8'],
    ['loopback, 300.1.1.1', '300.1.1.1'],
  ])('refuses %s at start, naming the entry, instead of a stack trace from Express', (value, entry) => {
    expect(invalidTrustProxyEntry(value)).toBe(entry);
    expect(() => validateEnvironment({ TRUST_PROXY: value })).toThrow(/^Invalid configuration: TRUST_PROXY: /);
  });
});
