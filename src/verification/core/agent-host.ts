// DESIGN.md section 2: the uid is the whole first label, `agent-` and 24
// lowercase hex digits.
const AGENT_UID = /^agent-[0-9a-f]{24}$/;

/**
 * Returns the agent uid when `host` is exactly `<uid>.<authorityHost>`, else
 * undefined. Both are host[:port] authorities (default port omitted), so a
 * port mismatch is no match. Host names are case-insensitive (RFC 9110
 * section 4.2.3), hence the lowercasing; only one label may precede the
 * authority host, so nested names never resolve to an agent.
 */
export function agentUidFromHost(host: string, authorityHost: string): string | undefined {
  const candidate = host.toLowerCase();
  const suffix = `.${authorityHost.toLowerCase()}`;
  if (authorityHost === '' || !candidate.endsWith(suffix)) {
    return undefined;
  }
  const label = candidate.slice(0, candidate.length - suffix.length);
  return AGENT_UID.test(label) ? label : undefined;
}
