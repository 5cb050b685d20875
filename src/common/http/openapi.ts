import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { AppConfig } from '../../config/app-config';
import { AgentHostOnlyMiddleware } from '../../discovery/agent-host-only.middleware';
import { WELL_KNOWN_DIRECTORY_PATH } from '../../verification/key-resolver';
import { ErrorBodyDto } from '../errors/error-body.dto';
import { errorResponse, SIGNATURE_SECURITY_SCHEMES } from './openapi.decorators';

/** Swagger UI (self-hosted assets from swagger-ui-dist) and the OpenAPI 3 document. */
export const DOCS_PATH = '/docs';
export const DOCS_JSON_PATH = '/docs-json';

const DESCRIPTION = `
Agent identity authority compatible with the \`vestauth\` client and web-bot-auth.

**Signed requests.** Protected routes need an RFC 9421 signature made with the agent's
Ed25519 key: the \`Signature\`, \`Signature-Input\` and \`Signature-Agent\` headers, as
\`vestauth primitives headers\` prints them (\`POST /register\` sends no \`Signature-Agent\`).
The signature covers \`@authority\`, so it is only valid for the host it was made for.

**Errors.** Every error has the body \`{"error":{"status","code","message","help?"}}\`
(schema \`ErrorBody\`); each operation lists the codes it can answer with.

**Agent hosts.** Each agent's key directory is served on its own host,
\`agent-<24 hex>.<authority host>\`; agent hosts serve nothing else.
`.trim();

const TAGS: Array<[name: string, description: string]> = [
  ['registration', 'Agent registration by proof-of-possession, and key rotation.'],
  ['discovery', 'Public key directories, one per agent host.'],
  ['verification', 'Signed-request verification as seen by an agent.'],
  ['admin: agents', 'Agent administration (admin agents only).'],
  ['admin: audit', 'Audit trail queries and integrity checks (admin agents only).'],
  ['health', 'Service status, liveness and readiness.'],
  ['metrics', 'Prometheus metrics for operators.'],
];

/**
 * Serves the API documentation at /docs and /docs-json. The document is
 * built on first request, from the decorators of the live app's controllers.
 */
export function setupOpenApi(app: INestApplication, config: AppConfig): void {
  const express = app as NestExpressApplication;
  // Swagger's routes go straight onto Express and so come before the module
  // middleware that keeps agent hosts to their directory: repeat it here.
  const agentHostOnly = new AgentHostOnlyMiddleware(config);
  express.use([DOCS_PATH, DOCS_JSON_PATH], (req: Request, res: Response, next: NextFunction) => {
    try {
      agentHostOnly.use(req, res, next);
    } catch (error) {
      next(error);
    }
  });
  SwaggerModule.setup(DOCS_PATH, app, () => buildOpenApiDocument(app, config), {
    jsonDocumentUrl: DOCS_JSON_PATH,
    raw: ['json'],
    customSiteTitle: 'vestauth authority API',
  });
}

function buildOpenApiDocument(app: INestApplication, config: AppConfig): OpenAPIObject {
  const builder = new DocumentBuilder()
    .setTitle('vestauth authority')
    .setDescription(DESCRIPTION)
    .setVersion(config.version)
    .addServer(config.publicUrl.origin);
  for (const [name, description] of TAGS) builder.addTag(name, description);
  for (const [name, scheme] of Object.entries(SIGNATURE_SECURITY_SCHEMES)) builder.addSecurity(name, scheme);
  const document = SwaggerModule.createDocument(app, builder.build(), {
    extraModels: [ErrorBodyDto],
    operationIdFactory: (controller, method) => `${controller.replace(/Controller$/, '')}_${method}`,
  });
  addInternalErrorResponses(document);
  addAgentHostServer(document, config);
  return document;
}

/** Any operation can fail unexpectedly; the body is still an ErrorBody, without details. */
function addInternalErrorResponses(document: OpenAPIObject): void {
  const { description, schema } = errorResponse(500, ['INTERNAL']);
  for (const pathItem of Object.values(document.paths)) {
    for (const operation of operationsOf(pathItem)) {
      operation.responses['500'] ??= { description, content: { 'application/json': { schema } } };
    }
  }
}

/** The directory is only served on agent hosts: Swagger UI's "Try it out" must address one. */
function addAgentHostServer(document: OpenAPIObject, config: AppConfig): void {
  const operation = document.paths[WELL_KNOWN_DIRECTORY_PATH]?.get;
  if (!operation) return;
  operation.servers = [
    {
      url: `${config.publicUrl.protocol}//{agent_uid}.${config.authority}`,
      description: 'The agent host: one DNS label, the agent uid, in front of the authority host.',
      variables: { agent_uid: { default: 'agent-000000000000000000000000', description: 'agent-<24 hex>' } },
    },
  ];
}

function operationsOf(pathItem: OpenAPIObject['paths'][string]) {
  return [pathItem.get, pathItem.put, pathItem.post, pathItem.delete, pathItem.options, pathItem.head, pathItem.patch, pathItem.trace].filter(
    (operation) => operation !== undefined,
  );
}
