import { DomainError } from '../../common/errors/domain-error';
import {
  coversSignatureAgent,
  MAX_SIGNATURE_AGENT_HEADER_LENGTH,
  MAX_SIGNATURE_AGENT_URL_LENGTH,
  parseSignatureAgent,
  withScheme,
} from './signature-agent';
import { parseSignatureHeaders, type ParsedSignature } from './signature-headers';

const AGENT_HOST = 'agent-0123456789abcdef01234567.localhost';

function signed(label: string, components: string): ParsedSignature {
  return parseSignatureHeaders(
    `${label}=(${components});tag="web-bot-auth"`,
    `${label}=:${Buffer.alloc(64).toString('base64')}:`,
    { requiredTag: 'web-bot-auth' },
  );
}

function coded(code: string, reason?: string) {
  const expected: Record<string, unknown> = { name: DomainError.name, code };
  if (reason !== undefined) {
    expected.detail = expect.objectContaining({ reason });
  }
  return expect.objectContaining(expected);
}

describe(parseSignatureAgent.name, () => {
  const sut = parseSignatureAgent;
  const vestauth = signed('sig1', '"@authority"');

  it('reads the vestauth dictionary member', () => {
    const agent = sut(`sig1="http://${AGENT_HOST}:3000"`, vestauth);

    expect(agent).toEqual({
      url: new URL(`http://${AGENT_HOST}:3000/`),
      origin: `http://${AGENT_HOST}:3000`,
      scheme: 'http',
      host: AGENT_HOST,
      port: 3000,
      authority: `${AGENT_HOST}:3000`,
      type: 'directory',
      memberKey: 'sig1',
    });
  });

  describe('legacy bare values', () => {
    it('reads a bare string (web-bot-auth v1 vectors)', () => {
      const agent = sut('"https://signature-agent.test"', signed('sig2', '"@authority" "signature-agent"'));

      expect(agent.origin).toBe('https://signature-agent.test');
      expect(agent.port).toBeUndefined();
      expect(agent.memberKey).toBeUndefined();
    });

    it('reads a bare host:port token as https', () => {
      const agent = sut(`${AGENT_HOST}:3000`, vestauth);

      expect(agent.scheme).toBe('https');
      expect(agent.authority).toBe(`${AGENT_HOST}:3000`);
      expect(agent.port).toBe(3000);
    });

    it.each([
      ['a bare token', `${AGENT_HOST}:3000`, `${AGENT_HOST}:3000`],
      ['a bare string', `"${AGENT_HOST.toUpperCase()}:3000"`, `${AGENT_HOST}:3000`],
      ['a member without scheme', `sig1="${AGENT_HOST}:443"`, `${AGENT_HOST}:443`],
      ['a member without scheme or port', `sig1="${AGENT_HOST}"`, AGENT_HOST],
    ])('keeps the host[:port] of %s without scheme for the local resolver', (_name, header, authority) => {
      expect(sut(header, vestauth).schemelessAuthority).toBe(authority);
    });

    it.each(['http', 'https'])('has no schemelessAuthority when the scheme is given (%s)', (scheme) => {
      expect(sut(`sig1="${scheme}://${AGENT_HOST}:3000"`, vestauth).schemelessAuthority).toBeUndefined();
    });

    it('reads a bare host token without a port', () => {
      expect(sut(AGENT_HOST, vestauth).origin).toBe(`https://${AGENT_HOST}`);
    });

    it('reads an unquoted URL token', () => {
      expect(sut('https://signature-agent.test', vestauth).origin).toBe('https://signature-agent.test');
    });

    it('reads a token member', () => {
      const agent = sut(`sig1=${AGENT_HOST}:3000`, vestauth);

      expect(agent.authority).toBe(`${AGENT_HOST}:3000`);
      expect(agent.memberKey).toBe('sig1');
    });
  });

  describe('member selection', () => {
    const header = 'sig2="https://label.test", agent2="https://keyed.test"';

    it('prefers the member the signature covers by key (web-bot-auth v2 vectors)', () => {
      const parsed = signed('sig2', '"@authority" "signature-agent";key="agent2"');

      expect(sut(header, parsed)).toMatchObject({ origin: 'https://keyed.test', memberKey: 'agent2' });
    });

    it('then the member named like the signature label', () => {
      expect(sut(header, signed('sig2', '"@authority"'))).toMatchObject({
        origin: 'https://label.test',
        memberKey: 'sig2',
      });
    });

    it('then the only member', () => {
      expect(sut('agent2="https://keyed.test"', vestauth).memberKey).toBe('agent2');
    });

    it('refuses several members none of which is chosen', () => {
      expect(() => sut('a="https://a.test", b="https://b.test"', vestauth)).toThrow(
        coded('INVALID_SIGNATURE_AGENT', 'ambiguous_member'),
      );
    });

    it('refuses a covered key with no such member', () => {
      const parsed = signed('sig1', '"@authority" "signature-agent";key="agent9"');

      expect(() => sut('sig1="https://a.test"', parsed)).toThrow(
        coded('INVALID_SIGNATURE_AGENT', 'member_missing_or_not_item'),
      );
    });

    it('refuses two covered members', () => {
      const parsed = signed('sig1', '"signature-agent";key="a" "signature-agent";key="b"');

      expect(() => sut('a="https://a.test", b="https://b.test"', parsed)).toThrow(
        coded('INVALID_SIGNATURE_AGENT', 'ambiguous_member'),
      );
    });

    it('refuses an inner-list member', () => {
      expect(() => sut('sig1=("https://a.test")', vestauth)).toThrow(
        coded('INVALID_SIGNATURE_AGENT', 'member_missing_or_not_item'),
      );
    });
  });

  describe('type parameter', () => {
    it.each(['', ';type=directory', ';type="directory"'])('accepts the directory type (%p)', (param) => {
      expect(sut(`sig1="https://a.test"${param}`, vestauth).type).toBe('directory');
    });

    it.each([';type="jwks_uri"', ';type=cimd', ';type=?1'])('refuses type %p', (param) => {
      expect(() => sut(`sig1="https://a.test"${param}`, vestauth)).toThrow(
        coded('INVALID_SIGNATURE_AGENT', 'unsupported_type'),
      );
    });
  });

  describe('URL normalization', () => {
    it('lowercases the host and drops the default port', () => {
      const agent = sut('sig1="HTTPS://Agent.Example.COM:443/"', vestauth);

      expect(agent).toMatchObject({
        origin: 'https://agent.example.com',
        host: 'agent.example.com',
        authority: 'agent.example.com',
        port: undefined,
      });
    });

    it('accepts a bracketed IPv6 literal', () => {
      expect(sut('sig1="http://[::1]:8080"', vestauth).authority).toBe('[::1]:8080');
    });
  });

  describe('URL validation', () => {
    it.each([
      ['another scheme', 'ftp://a.test'],
      ['userinfo', 'https://user@a.test'],
      ['userinfo with password', 'https://user:pw@a.test'],
      ['a path', 'https://a.test/.well-known/x'],
      ['a query', 'https://a.test?x'],
      ['an empty query', 'https://a.test/?'],
      ['a fragment', 'https://a.test#x'],
      ['no host', 'https://'],
      ['an empty label', 'https://a..test'],
      ['port 0', 'https://a.test:0'],
      ['a port out of range', 'https://a.test:65536'],
      ['a backslash', 'https://a.test\\\\b.test'],
      ['percent-encoding', 'https://a%2etest'],
      ['non-ASCII', 'https://b\u00fccher.test'],
      ['an invalid IPv4 address', 'https://999.1.1.1'],
      ['an invalid IPv6 literal', 'https://[:::::]'],
      ['an over-long URL', `https://${'a'.repeat(MAX_SIGNATURE_AGENT_URL_LENGTH)}.test`],
    ])('refuses %s', (_, url) => {
      expect(() => sut(`sig1="${url}"`, vestauth)).toThrow(coded('INVALID_SIGNATURE_AGENT'));
    });

    it('refuses an item that is neither a string nor a token', () => {
      expect(() => sut('sig1=42', vestauth)).toThrow(coded('INVALID_SIGNATURE_AGENT', 'invalid_url'));
    });
  });

  describe('missing and malformed headers', () => {
    it.each([undefined, '', '   '])('refuses a missing header (%p)', (header) => {
      expect(() => sut(header, vestauth)).toThrow(coded('MISSING_SIGNATURE_AGENT'));
    });

    it('refuses an unparsable header', () => {
      expect(() => sut('sig1="unterminated', vestauth)).toThrow(
        coded('INVALID_SIGNATURE_AGENT', 'unparsable'),
      );
    });

    it('refuses an over-long header before parsing it', () => {
      const header = `sig1="https://a.test", pad="${'x'.repeat(MAX_SIGNATURE_AGENT_HEADER_LENGTH)}"`;

      expect(() => sut(header, vestauth)).toThrow(coded('INVALID_SIGNATURE_AGENT', 'header_too_long'));
    });
  });
});

describe(coversSignatureAgent.name, () => {
  const sut = coversSignatureAgent;
  const header = 'sig1="https://a.test", agent2="https://b.test"';

  it('is true when the whole field is covered', () => {
    const parsed = signed('sig1', '"@authority" "signature-agent"');

    expect(sut(parsed, parseSignatureAgent(header, parsed))).toBe(true);
  });

  it('is true when the chosen member is covered by key', () => {
    const parsed = signed('sig1', '"@authority" "signature-agent";key="agent2"');

    expect(sut(parsed, parseSignatureAgent(header, parsed))).toBe(true);
  });

  it('is false when another member is covered by key', () => {
    const parsed = signed('sig1', '"@authority" "signature-agent";key="agent2"');
    const agent = parseSignatureAgent(header, signed('sig1', '"@authority"'));

    expect(sut(parsed, agent)).toBe(false);
  });

  it('is false for a bare value and a keyed component', () => {
    const parsed = signed('sig1', '"signature-agent";key="sig1"');

    expect(sut(parsed, parseSignatureAgent('"https://a.test"', parsed))).toBe(false);
  });

  it('is false when the signature does not cover Signature-Agent (vestauth 0.21.1)', () => {
    const parsed = signed('sig1', '"@authority"');

    expect(sut(parsed, parseSignatureAgent(header, parsed))).toBe(false);
  });
});

describe(withScheme.name, () => {
  const vestauth = signed('sig1', '"@authority"');

  it.each([
    ['http', `${AGENT_HOST}:3000`, `http://${AGENT_HOST}:3000`, `${AGENT_HOST}:3000`],
    ['http', `${AGENT_HOST}:80`, `http://${AGENT_HOST}`, AGENT_HOST],
    ['http', AGENT_HOST, `http://${AGENT_HOST}`, AGENT_HOST],
  ] as const)('reads a value without scheme with %s (%s)', (scheme, header, origin, authority) => {
    const agent = withScheme(parseSignatureAgent(`sig1="${header}"`, vestauth), scheme);
    expect({ scheme: agent.scheme, origin: agent.origin, authority: agent.authority, url: agent.url.href }).toEqual({ scheme, origin, authority, url: `${origin}/` });
  });

  it('leaves a value with a scheme as it is', () => {
    const agent = parseSignatureAgent(`sig1="https://${AGENT_HOST}"`, vestauth);
    expect(withScheme(agent, 'http')).toBe(agent);
  });
});
