import { METHODS } from 'node:http';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer, Reflector } from '@nestjs/core';
import request from 'supertest';
import type { Response } from 'supertest';
import { ERROR_STATUS, ErrorCode } from '../src/common/errors/error-code';
import { DOCS_JSON_PATH, DOCS_PATH } from '../src/common/http/openapi';
import { SignedAgentPolicy } from '../src/verification/signed-agent.decorator';
import { agentHeaders, agentKeyPair, registerAgent, RegisteredAgent, signatureHeaders } from './factories/agent.factory';
import { startTestApp, startTestAppWithAdmin, TestApp } from './support/test-app';

/** The parts of an OpenAPI 3.0 document these tests read. */
interface Schema {
  $ref?: string;
  type?: string;
  enum?: unknown[];
  nullable?: boolean;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  allOf?: Schema[];
  oneOf?: Schema[];
}
interface Operation {
  summary?: string;
  security?: Array<Record<string, string[]>>;
  responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }>;
  servers?: Array<{ url: string }>;
}
interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema>; securitySchemes: Record<string, { type: string; in: string; name: string }> };
}

interface Route {
  method: string;
  /** Express syntax, e.g. /admin/agents/:uid */
  path: string;
}

const DIRECTORY = '/.well-known/http-message-signatures-directory';
const SIGNATURE_REQUIREMENT = { Signature: [], 'Signature-Input': [], 'Signature-Agent': [] };
const ALL_CODES = Object.keys(ERROR_STATUS);

/**
 * Every route the running app answers, read from Express's router: what is
 * served, not what is declared. Nest mounts middleware bound to all routes
 * (`forRoutes('{*path}')`) as Express `all()` routes; those answer every
 * method and are not endpoints.
 */
function servedRoutes(t: TestApp): Route[] {
  const router = (t.app.getHttpAdapter().getInstance() as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } }).router;
  return router.stack.flatMap((layer) => {
    const methods = Object.keys(layer.route?.methods ?? {});
    if (!layer.route || methods.length === METHODS.length) return [];
    return methods.map((method) => ({ method, path: layer.route!.path }));
  });
}

/** The docs' own routes, registered by SwaggerModule: the only ones that need not document themselves. */
function isDocsRoute(route: Route): boolean {
  return route.path === DOCS_PATH || route.path.startsWith(`${DOCS_PATH}/`) || route.path === DOCS_JSON_PATH;
}

/** Handlers carrying @SignedAgent (on the method or its controller), as "METHOD path" in Express syntax. */
function signedAgentRoutes(t: TestApp): Set<string> {
  const reflector = t.app.get(Reflector);
  const routes = new Set<string>();
  for (const module of t.app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => object) | null;
      if (!controller) continue;
      const prefix = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = (controller.prototype as Record<string, unknown>)[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
        if (path === undefined || !reflector.getAllAndOverride(SignedAgentPolicy, [handler, controller])) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod].toLowerCase();
        routes.add(`${method} ${`/${prefix}/${path}`.replace(/\/+/g, '/').replace(/(.)\/$/, '$1')}`);
      }
    }
  }
  return routes;
}

/** Express `:param` to OpenAPI `{param}`. */
const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

describe('OpenAPI documentation (e2e)', () => {
  let t: TestApp;
  let doc: OpenApiDocument;
  let docsResponse: Response;

  const operation = (method: string, path: string): Operation | undefined => doc.paths[toOpenApiPath(path)]?.[method];
  const operations = (): Array<[string, Operation]> =>
    Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]): [string, Operation] => [`${method} ${path}`, op]));
  const resolve = (schema: Schema): Schema => {
    // Swagger wraps a described $ref as `allOf: [ref]` (OpenAPI 3.0 ignores siblings of $ref).
    if (schema.allOf?.length === 1) return resolve(schema.allOf[0]);
    if (!schema.$ref) return schema;
    const target = doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')];
    if (!target) throw new Error(`unresolved ${schema.$ref}`);
    return resolve(target);
  };
  /** The codes an error response documents, from its narrowed ErrorBody. */
  const documentedCodes = (response: Operation['responses'][string]): string[] => {
    const schema = response.content?.['application/json']?.schema;
    const narrowed = schema?.allOf?.[1]?.properties?.error?.properties?.code;
    return (narrowed?.enum ?? []) as string[];
  };

  beforeAll(async () => {
    t = await startTestApp();
    docsResponse = await request(t.url).get(DOCS_JSON_PATH).expect(200);
    doc = docsResponse.body as OpenApiDocument;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('serves an OpenAPI 3 document at /docs-json', () => {
    expect(docsResponse.headers['content-type']).toMatch(/^application\/json/);
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info.title).toBe('vestauth authority');
    expect(doc.info.version).toBe(t.config.version);
  });

  it('documents every route the app serves, with a summary and a 2xx response body', () => {
    const routes = servedRoutes(t).filter((route) => !isDocsRoute(route));
    // The app's own routes are there (a broken enumeration would pass vacuously).
    expect(routes).toEqual(expect.arrayContaining([{ method: 'post', path: '/register' }, { method: 'get', path: '/admin/agents/:uid' }]));
    const problems: string[] = [];
    for (const { method, path } of routes) {
      const op = operation(method, path);
      if (!op) {
        problems.push(`${method.toUpperCase()} ${path}: not in the document`);
        continue;
      }
      if (!op.summary?.trim()) problems.push(`${method.toUpperCase()} ${path}: no summary`);
      const success = Object.entries(op.responses).filter(([status]) => /^2\d\d$/.test(status));
      if (success.length === 0 || !success.every(([, response]) => response.content && Object.keys(response.content).length > 0)) {
        problems.push(`${method.toUpperCase()} ${path}: no documented 2xx response body`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('documents nothing the app does not serve', () => {
    const served = new Set(servedRoutes(t).map(({ method, path }) => `${method} ${toOpenApiPath(path)}`));
    expect(operations().map(([key]) => key).filter((key) => !served.has(key))).toEqual([]);
  });

  it('puts the signature headers and the 401/403 responses on every @SignedAgent route', () => {
    const signed = signedAgentRoutes(t);
    expect([...signed]).toEqual(expect.arrayContaining(['get /whoami', 'post /whoami', 'get /admin/agents', 'get /admin/audit-events/verify']));
    const served = new Set(servedRoutes(t).map(({ method, path }) => `${method} ${path}`));
    for (const route of signed) {
      expect(served.has(route)).toBe(true);
      const [method, path] = route.split(' ');
      const op = operation(method, path)!;
      expect({ route, security: op.security }).toEqual({ route, security: [SIGNATURE_REQUIREMENT] });
      expect({ route, codes: documentedCodes(op.responses['401']) }).toEqual({ route, codes: expect.arrayContaining(['MISSING_SIGNATURE', 'INVALID_SIGNATURE', 'REPLAYED_NONCE']) });
      expect({ route, codes: documentedCodes(op.responses['403']) }).toEqual({ route, codes: expect.arrayContaining(['AGENT_DISABLED', 'UNTRUSTED_SIGNATURE_AGENT']) });
    }
    expect(documentedCodes(operation('get', '/admin/agents')!.responses['403'])).toContain('FORBIDDEN');
    expect(documentedCodes(operation('get', '/whoami')!.responses['403'])).not.toContain('FORBIDDEN');
  });

  it('documents the signed routes outside @SignedAgent: registration without Signature-Agent, rotation with it', () => {
    expect(operation('post', '/register')!.security).toEqual([{ Signature: [], 'Signature-Input': [] }]);
    expect(operation('post', '/rotate')!.security).toEqual([SIGNATURE_REQUIREMENT]);
    expect(documentedCodes(operation('post', '/register')!.responses['401'])).not.toContain('MISSING_SIGNATURE_AGENT');
    expect(documentedCodes(operation('post', '/rotate')!.responses['401'])).toContain('MISSING_SIGNATURE_AGENT');
    expect(documentedCodes(operation('post', '/register')!.responses['409'])).toEqual(['KEY_CONFLICT']);
    expect(operation('get', '/')!.security).toBeUndefined();
  });

  it('declares each signature header as an apiKey-in-header security scheme', () => {
    for (const header of Object.keys(SIGNATURE_REQUIREMENT)) {
      expect(doc.components.securitySchemes[header]).toMatchObject({ type: 'apiKey', in: 'header', name: header });
    }
  });

  it('describes the error body as ErrorBody, with every error code in its enum', () => {
    const body = doc.components.schemas.ErrorBody;
    expect(body.required).toEqual(['error']);
    const detail = resolve(body.properties!.error);
    expect(detail.required).toEqual(['status', 'code', 'message']);
    expect(Object.keys(detail.properties!).sort()).toEqual(['code', 'help', 'message', 'status']);
    expect(resolve(detail.properties!.code).enum).toEqual(ALL_CODES);
  });

  it('gives every error response the ErrorBody schema with codes of that status only', () => {
    const problems: string[] = [];
    for (const [key, op] of operations()) {
      for (const [status, response] of Object.entries(op.responses).filter(([s]) => /^[45]\d\d$/.test(s))) {
        const schema = response.content?.['application/json']?.schema;
        const codes = documentedCodes(response);
        if (schema?.allOf?.[0]?.$ref !== '#/components/schemas/ErrorBody') problems.push(`${key} ${status}: not an ErrorBody`);
        if (codes.length === 0) problems.push(`${key} ${status}: no codes`);
        for (const code of codes) {
          if (ERROR_STATUS[code as ErrorCode] !== Number(status)) problems.push(`${key} ${status}: ${code} is not a ${status}`);
        }
      }
      if (!op.responses['500']) problems.push(`${key}: no 500`);
    }
    expect(problems).toEqual([]);
  });

  it('resolves every $ref in the document', () => {
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(20);
    const unresolved = refs.map((r) => r.slice(8, -1)).filter((ref) => !doc.components.schemas[ref.replace('#/components/schemas/', '')]);
    expect(unresolved).toEqual([]);
  });

  it('documents the audit export as JSON and as CSV', () => {
    const content = operation('get', '/admin/audit-events')!.responses['200'].content!;
    expect(content['application/json'].schema.$ref).toBe('#/components/schemas/AuditPage');
    expect(content['text/csv'].schema.type).toBe('string');
  });

  it('documents the directory with its media type, on the agent host', () => {
    const op = operation('get', DIRECTORY)!;
    expect(op.responses['200'].content).toEqual({
      'application/http-message-signatures-directory+json': { schema: { $ref: '#/components/schemas/KeyDirectory' } },
    });
    expect(op.servers).toEqual([expect.objectContaining({ url: `http://{agent_uid}.localhost:${t.port}` })]);
    expect(documentedCodes(op.responses['404'])).toEqual(['NOT_FOUND', 'UNKNOWN_AGENT']);
  });

  it('serves Swagger UI at /docs from its own host', async () => {
    const page = await request(t.url).get(DOCS_PATH).expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.text).toContain('swagger-ui');
    const scripts = [...page.text.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]);
    expect(scripts.length).toBeGreaterThanOrEqual(3);
    // Self-hosted: every script comes from this service, none from a CDN.
    for (const src of scripts) {
      expect(src).not.toMatch(/^(https?:)?\/\//);
      const asset = await request(t.url).get(new URL(src, `${t.url}${DOCS_PATH}`).pathname).expect(200);
      expect(asset.headers['content-type']).toMatch(/javascript/);
    }
  });

  it('keeps agent hosts to their directory: no docs there', async () => {
    const agentHost = `agent-${'0'.repeat(24)}.localhost:${t.port}`;
    for (const path of [DOCS_PATH, DOCS_JSON_PATH, `${DOCS_PATH}/swagger-ui-bundle.js`]) {
      const res = await request(t.url).get(path).set('Host', agentHost).expect(404);
      expect(res.body).toEqual({ error: expect.objectContaining({ status: 404, code: 'NOT_FOUND' }) });
    }
  });

  describe('the documented schemas are the wire shapes', () => {
    let admin: RegisteredAgent;
    let agent: RegisteredAgent;
    let a: TestApp;
    let authority: string;

    /**
     * Checks a value against a schema of the document. Objects must have
     * exactly the documented members (`strict`), except in the refinements
     * after the first `allOf` member (the narrowed error codes), which
     * restate only what they narrow.
     */
    const conforms = (value: unknown, schema: Schema, at = '$', strict = true): string[] => {
      if (schema.$ref) return conforms(value, resolve(schema), at, strict);
      if (schema.allOf) return schema.allOf.flatMap((s, i) => conforms(value, s, at, strict && i === 0));
      if (schema.oneOf) {
        const results = schema.oneOf.map((s) => conforms(value, s, at, strict));
        return results.some((r) => r.length === 0) ? [] : [`${at}: matches none of oneOf (${results.map((r) => r[0]).join('; ')})`];
      }
      if (value === null) return schema.nullable ? [] : [`${at}: null`];
      if (schema.enum && !schema.enum.includes(value)) return [`${at}: ${JSON.stringify(value)} not in enum`];
      switch (schema.type) {
        case 'string':
          return typeof value === 'string' ? [] : [`${at}: not a string`];
        case 'integer':
          return Number.isInteger(value) ? [] : [`${at}: not an integer`];
        case 'boolean':
          return typeof value === 'boolean' ? [] : [`${at}: not a boolean`];
        case 'array':
          return Array.isArray(value) ? value.flatMap((item, i) => conforms(item, schema.items!, `${at}[${i}]`, strict)) : [`${at}: not an array`];
        case 'object':
        case undefined: {
          if (typeof value !== 'object' || Array.isArray(value)) return [`${at}: not an object`];
          const record = value as Record<string, unknown>;
          const properties = schema.properties ?? {};
          const missing = (schema.required ?? []).filter((name) => !(name in record)).map((name) => `${at}.${name}: missing`);
          const members = Object.entries(record).flatMap(([name, member]) => {
            if (properties[name]) return conforms(member, properties[name], `${at}.${name}`, strict);
            if (typeof schema.additionalProperties === 'object') return conforms(member, schema.additionalProperties, `${at}.${name}`, strict);
            return !strict || schema.additionalProperties === true || !schema.properties ? [] : [`${at}.${name}: not documented`];
          });
          return [...missing, ...members];
        }
        default:
          return [];
      }
    };
    const expectDocumented = (method: string, path: string, res: Response): void => {
      const response = operation(method, path)!.responses[String(res.status)];
      expect({ status: res.status, documented: response !== undefined }).toEqual({ status: res.status, documented: true });
      const mediaType = String(res.headers['content-type']).split(';')[0];
      const schema = response.content?.[mediaType]?.schema;
      expect({ mediaType, schema: schema !== undefined }).toEqual({ mediaType, schema: true });
      expect(conforms(res.body, schema!)).toEqual([]);
    };

    beforeAll(async () => {
      ({ app: a, admin } = await startTestAppWithAdmin({ AUDIT_SEAL_GRACE_SECONDS: '0' }));
      authority = `localhost:${a.port}`;
      agent = await registerAgent(a.url, authority);
    });

    afterAll(async () => {
      await a?.close();
    });

    const get = (path: string, signer?: RegisteredAgent) => {
      const req = request(a.url).get(path);
      return signer ? req.set(agentHeaders(signer, authority)) : req;
    };
    const post = (path: string, signer: RegisteredAgent) => request(a.url).post(path).set(agentHeaders(signer, authority));

    it('public routes', async () => {
      expectDocumented('get', '/', await get('/').expect(200));
      expectDocumented('get', '/health/live', await get('/health/live').expect(200));
      expectDocumented('get', '/health/ready', await get('/health/ready').expect(200));
      expectDocumented('get', DIRECTORY, await get(DIRECTORY).set('Host', `${agent.uid}.${authority}`).expect(200));
      expectDocumented('get', DIRECTORY, await get(DIRECTORY).set('Host', `agent-${'f'.repeat(24)}.${authority}`).expect(404));
    });

    it('registration and rotation', async () => {
      const key = agentKeyPair();
      const register = () =>
        request(a.url).post('/register').set(signatureHeaders(key, { authority, tag: 'null' })).send({ public_jwk: key.publicJwk });
      expectDocumented('post', '/register', await register().expect(200));
      expectDocumented('post', '/register', await register().expect(200));
      expectDocumented('post', '/register', await request(a.url).post('/register').send({ public_jwk: key.publicJwk }).expect(401));
      expectDocumented('post', '/register', await request(a.url).post('/register').set(signatureHeaders(key, { authority, tag: 'null' })).send({ public_jwk: { ...key.publicJwk, d: 'x' } }).expect(400));
      const rotating = await registerAgent(a.url, authority);
      const next = agentKeyPair();
      expectDocumented('post', '/rotate', await post('/rotate', rotating).send({ public_jwk: next.publicJwk }).expect(200));
    });

    it('verification', async () => {
      expectDocumented('get', '/whoami', await get('/whoami', agent).expect(200));
      expectDocumented('post', '/whoami', await post('/whoami', agent).expect(200));
      expectDocumented('get', '/whoami', await get('/whoami').expect(401));
      expectDocumented('get', '/admin/agents', await get('/admin/agents', agent).expect(403));
    });

    it('agent administration', async () => {
      const target = await registerAgent(a.url, authority);
      expectDocumented('get', '/admin/agents', await get('/admin/agents?limit=2', admin).expect(200));
      expectDocumented('get', '/admin/agents/:uid', await get(`/admin/agents/${target.uid}`, admin).expect(200));
      expectDocumented('get', '/admin/agents/:uid', await get(`/admin/agents/agent-${'e'.repeat(24)}`, admin).expect(404));
      expectDocumented('post', '/admin/agents/:uid/disable', await post(`/admin/agents/${target.uid}/disable`, admin).expect(200));
      expectDocumented('post', '/admin/agents/:uid/enable', await post(`/admin/agents/${target.uid}/enable`, admin).expect(200));
      expectDocumented(
        'post',
        '/admin/agents/:uid/keys/:kid/revoke',
        await post(`/admin/agents/${target.uid}/keys/${target.kid}/revoke`, admin).send({ reason: 'openapi e2e' }).expect(200),
      );
      expectDocumented('post', '/admin/agents/:uid/keys/:kid/revoke', await post(`/admin/agents/${target.uid}/keys/${target.kid}/revoke`, admin).send({}).expect(400));
    });

    it('audit queries', async () => {
      expectDocumented('get', '/admin/audit-events', await get('/admin/audit-events?limit=5', admin).expect(200));
      expectDocumented('get', '/admin/audit-events/summary', await get('/admin/audit-events/summary', admin).expect(200));
      expectDocumented('get', '/admin/audit-events/verify', await get('/admin/audit-events/verify', admin).expect(200));
      const csv = await get('/admin/audit-events?format=csv', admin).buffer(true).expect(200);
      expect(csv.headers['content-type']).toMatch(/^text\/csv/);
      expect(operation('get', '/admin/audit-events')!.responses['200'].content!['text/csv']).toBeDefined();
    });
  });
});
