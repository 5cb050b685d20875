import { agentUidFromHost } from './agent-host';

const UID = 'agent-0123456789abcdef01234567';

describe(agentUidFromHost.name, () => {
  const sut = agentUidFromHost;

  it.each([
    [`${UID}.localhost:3000`, 'localhost:3000'],
    [`${UID}.auth.example.com`, 'auth.example.com'],
    [`${UID.toUpperCase()}.LOCALHOST:3000`, 'localhost:3000'],
    [`${UID}.auth.example.com`, 'AUTH.Example.com'],
  ])('finds the uid in %s under %s', (host, authority) => {
    expect(sut(host, authority)).toBe(UID);
  });

  it.each([
    ['the bare authority host', 'localhost:3000', 'localhost:3000'],
    ['a nested label', `x.${UID}.localhost:3000`, 'localhost:3000'],
    ['a label without the agent- prefix', 'www.localhost:3000', 'localhost:3000'],
    ['a uid with 23 hex digits', 'agent-0123456789abcdef0123456.localhost:3000', 'localhost:3000'],
    ['a uid with 25 hex digits', 'agent-0123456789abcdef012345678.localhost:3000', 'localhost:3000'],
    ['a uid with non-hex digits', 'agent-0123456789abcdef0123456g.localhost:3000', 'localhost:3000'],
    ['another port', `${UID}.localhost:3001`, 'localhost:3000'],
    ['a missing port', `${UID}.localhost`, 'localhost:3000'],
    ['an unexpected port', `${UID}.localhost:3000`, 'localhost'],
    ['a look-alike domain', `${UID}.evillocalhost:3000`, 'localhost:3000'],
    ['a suffix attack', `${UID}.localhost:3000.evil.test`, 'localhost:3000'],
    ['an empty authority', `${UID}.`, ''],
    ['an empty label', '.localhost:3000', 'localhost:3000'],
  ])('returns undefined for %s', (_, host, authority) => {
    expect(sut(host, authority)).toBeUndefined();
  });
});
