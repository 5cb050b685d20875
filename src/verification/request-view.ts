import type { Request } from 'express';
import type { RequestView } from './core/signature-base';

const DEFAULT_PORT: Record<string, string> = { http: '80', https: '443' };

/**
 * The request as RFC 9421 components see it. Authority and scheme come from
 * Host and the connection, or from X-Forwarded-* only when trust proxy is
 * on (Express applies that setting to `req.host` and `req.protocol`).
 */
export function requestViewOf(req: Request): RequestView {
  const scheme = req.protocol === 'https' ? 'https' : 'http';
  const target = req.originalUrl || req.url;
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  return {
    method: req.method,
    scheme,
    authority: normalizeAuthority(req.host ?? '', scheme),
    path: path === '' ? '/' : path,
    query: q === -1 ? '' : target.slice(q),
    header: (name: string) => {
      // Node's req.headers is a plain object and the name is the signer's
      // choice: `constructor` or `__proto__` would find Object.prototype's
      // members. Only a string (or set-cookie's array) is a header received.
      const value: unknown = req.headers[name.toLowerCase()];
      if (typeof value === 'string') return [value];
      return Array.isArray(value) ? (value as string[]) : undefined;
    },
  };
}

/** Lowercase host[:port] with the scheme's default port removed (RFC 9421 section 2.2.3). */
export function normalizeAuthority(authority: string, scheme: 'http' | 'https'): string {
  const lower = authority.trim().toLowerCase();
  const colon = lower.lastIndexOf(':');
  if (colon > lower.lastIndexOf(']') && lower.slice(colon + 1) === DEFAULT_PORT[scheme]) {
    return lower.slice(0, colon);
  }
  return lower;
}
