import { matchesTrustedDomain } from './verification-options';

const UID = 'agent-0123456789abcdef01234567';

describe(matchesTrustedDomain.name, () => {
  const sut = matchesTrustedDomain;

  describe('matches', () => {
    it.each<[string, string, string[]]>([
      ['an exact host', 'auth.example.com', ['auth.example.com']],
      ['an exact host with its port', 'auth.example.com:8443', ['auth.example.com:8443']],
      ['one label under a wildcard', `${UID}.api.vestauth.com`, ['*.api.vestauth.com']],
      ['one label under a wildcard with a port', `${UID}.localhost:3000`, ['*.localhost:3000']],
      ['case-insensitively, on both sides', `${UID.toUpperCase()}.API.vestauth.com`, ['*.api.VESTAUTH.com']],
      ['any pattern of the list', `${UID}.b.example`, ['a.example', '*.b.example']],
      ['a single-character label', 'a.example.com', ['*.example.com']],
    ])('%s', (_name, authority, patterns) => {
      expect(sut(authority, patterns)).toBe(true);
    });
  });

  describe('does not match', () => {
    it.each<[string, string, string[]]>([
      ['anything with no pattern configured', `${UID}.api.vestauth.com`, []],
      ['a subdomain of an exact host', `${UID}.auth.example.com`, ['auth.example.com']],
      ['the apex of a wildcard', 'api.vestauth.com', ['*.api.vestauth.com']],
      ['two labels under a wildcard', `x.${UID}.api.vestauth.com`, ['*.api.vestauth.com']],
      ['a host that only ends with the same characters', `${UID}.evilapi.vestauth.com`, ['*.api.vestauth.com']],
      ['the trusted suffix inside another host', `${UID}.api.vestauth.com.evil.example`, ['*.api.vestauth.com']],
      ['another port', `${UID}.localhost:3001`, ['*.localhost:3000']],
      ['a port the pattern does not name', `${UID}.api.vestauth.com:8443`, ['*.api.vestauth.com']],
      ['no port where the pattern names one', `${UID}.localhost`, ['*.localhost:3000']],
      ['an exact host with another port', 'auth.example.com:8443', ['auth.example.com']],
      ['an empty label', '.api.vestauth.com', ['*.api.vestauth.com']],
      ['a label starting with a hyphen', '-agent.api.vestauth.com', ['*.api.vestauth.com']],
      ['a label ending with a hyphen', 'agent-.api.vestauth.com', ['*.api.vestauth.com']],
      ['a label with an underscore', 'agent_1.api.vestauth.com', ['*.api.vestauth.com']],
      ['a label longer than 63 characters', `${'a'.repeat(64)}.api.vestauth.com`, ['*.api.vestauth.com']],
    ])('%s', (_name, authority, patterns) => {
      expect(sut(authority, patterns)).toBe(false);
    });
  });
});
