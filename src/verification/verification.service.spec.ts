import { isAgentHostOf } from './verification.service';

const UID = 'agent-0123456789abcdef01234567';

describe(isAgentHostOf.name, () => {
  it('is the agent host <uid>.<authority>, case-insensitively', () => {
    expect(isAgentHostOf(`${UID}.auth.example.com`, UID, 'auth.example.com')).toBe(true);
    expect(isAgentHostOf(`${UID}.Auth.Example.com:8443`, UID, 'auth.example.com:8443')).toBe(true);
  });

  it.each([
    ['the same uid under a trusted foreign authority', `${UID}.partner.example`, 'auth.example.com'],
    ['the same uid on another port', `${UID}.auth.example.com:8443`, 'auth.example.com'],
    ['a host nested under the agent host', `x.${UID}.auth.example.com`, 'auth.example.com'],
    ['the authority itself', 'auth.example.com', 'auth.example.com'],
  ])('is not %s', (_name, host, authority) => {
    expect(isAgentHostOf(host, UID, authority)).toBe(false);
  });

  it('is never true without a home authority', () => {
    expect(isAgentHostOf(`${UID}.auth.example.com`, UID, undefined)).toBe(false);
  });
});
