import { IncomingHttpHeaders, request } from 'node:http';

export interface Reply {
  /** 0 when no HTTP answer came (connection reset or refused, or the client gave up). */
  status: number;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** From sending the request to the end of the answer. */
  ms: number;
  /** The socket error when status is 0. */
  error?: string;
}

export interface Send {
  method?: 'GET' | 'POST';
  path: string;
  /** The Host header (the authority the request is signed for). */
  host: string;
  headers?: Record<string, string>;
  json?: unknown;
  /** The client gives up after this long (status 0, error "timeout"); far above any bound the tests assert. */
  timeoutMs?: number;
}

/**
 * One HTTP request to 127.0.0.1:<port> on a fresh connection, timed, with
 * any Host. Never throws: a reset or a hang comes back as status 0, so a
 * test can count and report it instead of stopping at the first one.
 */
export function send(port: number, s: Send): Promise<Reply> {
  const payload = s.json === undefined ? undefined : JSON.stringify(s.json);
  const headers: Record<string, string | number> = { Host: s.host, ...(s.headers ?? {}) };
  if (payload !== undefined) {
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = Buffer.byteLength(payload);
  }
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (reply: Omit<Reply, 'ms'>): void => {
      if (settled) return;
      settled = true;
      resolve({ ...reply, ms: Math.round(performance.now() - started) });
    };
    const req = request({ host: '127.0.0.1', port, method: s.method ?? 'GET', path: s.path, headers, agent: false });
    req.setTimeout(s.timeoutMs ?? 30_000, () => {
      done({ status: 0, headers: {}, body: undefined, error: 'timeout' });
      req.destroy();
    });
    req.once('error', (error) => done({ status: 0, headers: {}, body: undefined, error: error.message }));
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.once('error', (error) => done({ status: 0, headers: {}, body: undefined, error: error.message }));
      res.once('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: parse(text) }));
    });
    req.end(payload);
  });
}

/** The `error.code` of DESIGN.md's error body, if the reply has one. */
export function errorCode(reply: Reply): string | undefined {
  const body = reply.body as { error?: { code?: unknown } } | undefined;
  return typeof body?.error?.code === 'string' ? body.error.code : undefined;
}

/** "503 DATABASE_UNAVAILABLE in 12 ms", for failure messages and the timing report. */
export function describeReply(reply: Reply): string {
  return `${reply.status}${errorCode(reply) ? ` ${errorCode(reply)}` : ''}${reply.error ? ` (${reply.error})` : ''} in ${reply.ms} ms`;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
