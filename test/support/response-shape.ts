import type { Response } from 'supertest';

/** Headers whose values differ between any two responses. */
const PER_RESPONSE = new Set(['date', 'x-request-id', 'content-length', 'connection', 'keep-alive']);

/**
 * Status, body and every header but the per-response ones: what must be the
 * same when two paths (a hot route and Express) answer the same request.
 */
export function responseShape(res: Response): { status: number; body: unknown; headers: Record<string, unknown> } {
  const headers = Object.fromEntries(Object.entries(res.headers).filter(([name]) => !PER_RESPONSE.has(name)));
  return { status: res.status, body: res.body as unknown, headers };
}
