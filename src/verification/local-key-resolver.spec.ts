import type { PublicKeyRepository } from '../agents/public-key.repository';
import { parseSignatureAgent } from './core/signature-agent';
import { KeyCachePolicy } from './key-cache-policy';
import { LocalKeyResolver } from './local-key-resolver';
import { VerificationOptions } from './verification-options';

const UID = 'agent-0123456789abcdef01234567';
const VESTAUTH = { label: 'sig1', components: [] };

function resolverFor(publicUrl: string): LocalKeyResolver {
  const url = new URL(publicUrl);
  const options = {
    local: { scheme: url.protocol === 'https:' ? 'https' : 'http', authority: url.host },
    keyCache: { ttlMs: 1_000, maxEntries: 10, importedKeys: 10 },
  } as unknown as VerificationOptions;
  return new LocalKeyResolver({} as PublicKeyRepository, options, new KeyCachePolicy(options));
}

describe('LocalKeyResolver.localUid', () => {
  const uidOf = (publicUrl: string, signatureAgent: string) =>
    resolverFor(publicUrl).localUid(parseSignatureAgent(signatureAgent, VESTAUTH));

  // DESIGN.md section 2: older clients send a bare token without scheme.
  it.each([
    ['a bare token', 'http://localhost:4817', `${UID}.localhost:4817`],
    ['a bare string', 'http://localhost:4817', `"${UID}.localhost:4817"`],
    ['a member without scheme', 'http://localhost:4817', `sig1="${UID}.localhost:4817"`],
    ['a bare token, https', 'https://auth.example.com', `${UID}.auth.example.com`],
    ["a bare token with http's default port", 'http://auth.example.com', `${UID}.auth.example.com:80`],
    ["a bare token with https's default port", 'https://auth.example.com', `${UID}.auth.example.com:443`],
    ['an explicit scheme equal to ours', 'http://localhost:4817', `sig1="http://${UID}.localhost:4817"`],
  ])('resolves %s naming our agent host, whatever our scheme', (_name, publicUrl, signatureAgent) => {
    expect(uidOf(publicUrl, signatureAgent)).toBe(UID);
  });

  it.each([
    ['an explicit https under an http authority', 'http://localhost:4817', `sig1="https://${UID}.localhost:4817"`],
    ['an explicit http under an https authority', 'https://auth.example.com', `sig1="http://${UID}.auth.example.com"`],
    ['a bare token on another port', 'http://localhost:4817', `${UID}.localhost:4818`],
    ["a bare token with https's port under an http authority", 'http://auth.example.com', `${UID}.auth.example.com:443`],
    ['a bare token of another host', 'http://localhost:4817', `${UID}.example.com:4817`],
    ['a bare token that is not an agent host', 'http://localhost:4817', 'www.localhost:4817'],
  ])('does not resolve %s', (_name, publicUrl, signatureAgent) => {
    expect(uidOf(publicUrl, signatureAgent)).toBeUndefined();
  });

  it('leaves a scheme-less value read as https for any remote resolution', () => {
    const agent = parseSignatureAgent(`${UID}.localhost:4817`, VESTAUTH);
    expect(agent.scheme).toBe('https');
    expect(agent.url.protocol).toBe('https:');
  });
});
