import type { KeyWithAgent, PublicKeyRepository } from '../agents/public-key.repository';
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

describe('LocalKeyResolver: invalidation by agent', () => {
  const X = '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo';
  const OTHER_UID = 'agent-fedcba9876543210fedcba98';
  const agentRef = (uid: string) => parseSignatureAgent(`sig1="http://${uid}.localhost:4817"`, VESTAUTH);

  /** A repository whose rows can change (as the database's would) and which counts reads. */
  function setup() {
    const rows = new Map<string, KeyWithAgent>([
      ['kid-a', { kid: 'kid-a', agentUid: UID, jwk: { kty: 'OKP', crv: 'Ed25519', x: X, kid: 'kid-a' }, keyStatus: 'active', agentStatus: 'active' } as KeyWithAgent],
      ['kid-b', { kid: 'kid-b', agentUid: OTHER_UID, jwk: { kty: 'OKP', crv: 'Ed25519', x: X, kid: 'kid-b' }, keyStatus: 'active', agentStatus: 'active' } as KeyWithAgent],
    ]);
    let reads = 0;
    let held: { snapshotTaken: () => void; answer: Promise<void> } | undefined;
    const repository = {
      findManyWithAgent: async (kids: string[]) => {
        reads++;
        const snapshot = kids.map((kid) => (rows.has(kid) ? { ...rows.get(kid)! } : null));
        const hold = held;
        held = undefined;
        if (hold) {
          hold.snapshotTaken();
          await hold.answer;
        }
        return snapshot;
      },
    } as unknown as PublicKeyRepository;
    const options = {
      local: { scheme: 'http', authority: 'localhost:4817' },
      keyCache: { ttlMs: 60_000, maxEntries: 100, importedKeys: 10 },
    } as unknown as VerificationOptions;
    const policy = new KeyCachePolicy(options);
    const resolver = new LocalKeyResolver(repository, options, policy);
    /** As KeyInvalidation.apply does: the policy first, then the caches. */
    const disable = (uid: string) => {
      for (const row of rows.values()) if (row.agentUid === uid) row.agentStatus = 'disabled';
      policy.evicted();
      resolver.invalidate({ agentUid: uid });
    };
    return {
      resolver,
      disable,
      reads: () => reads,
      /** The next read takes its snapshot, then waits until `go()`; `taken` resolves once it has. */
      holdNextRead: () => {
        let go!: () => void;
        let snapshotTaken!: () => void;
        const answer = new Promise<void>((resolve) => (go = resolve));
        const taken = new Promise<void>((resolve) => (snapshotTaken = resolve));
        held = { snapshotTaken, answer };
        return { go, taken };
      },
    };
  }

  it("makes that agent's cached keys misses, and only its own", async () => {
    const { resolver, disable, reads } = setup();
    await resolver.resolve(agentRef(UID), 'kid-a');
    await resolver.resolve(agentRef(OTHER_UID), 'kid-b');
    expect(reads()).toBe(2);

    disable(UID);
    await expect(resolver.resolve(agentRef(UID), 'kid-a')).rejects.toMatchObject({ code: 'AGENT_DISABLED' });
    await resolver.resolve(agentRef(OTHER_UID), 'kid-b');
    expect(reads()).toBe(3);
    // The disabled state read after the eviction is cached as usual.
    await expect(resolver.resolve(agentRef(UID), 'kid-a')).rejects.toMatchObject({ code: 'AGENT_DISABLED' });
    expect(reads()).toBe(3);
  });

  it('does not keep a row read before the eviction and answered after it', async () => {
    const { resolver, disable, reads, holdNextRead } = setup();
    const { go, taken } = holdNextRead();
    const inFlight = resolver.resolve(agentRef(UID), 'kid-a');
    await taken;
    disable(UID);
    go();
    // The request that was already reading is answered from its read...
    await expect(inFlight).resolves.toMatchObject({ uid: UID, kid: 'kid-a' });
    // ...but the next one reads again and sees the change.
    await expect(resolver.resolve(agentRef(UID), 'kid-a')).rejects.toMatchObject({ code: 'AGENT_DISABLED' });
    expect(reads()).toBe(2);
  });

  it('clears the whole cache once it remembers too many evicted agents, and stays correct', async () => {
    const { resolver, disable, reads } = setup();
    await resolver.resolve(agentRef(OTHER_UID), 'kid-b');
    for (let i = 0; i < 10_000; i++) resolver.invalidate({ agentUid: `agent-${i.toString(16).padStart(24, '0')}` });
    disable(UID);
    await expect(resolver.resolve(agentRef(UID), 'kid-a')).rejects.toMatchObject({ code: 'AGENT_DISABLED' });
    await resolver.resolve(agentRef(OTHER_UID), 'kid-b');
    expect(reads()).toBe(3);
  });
});
