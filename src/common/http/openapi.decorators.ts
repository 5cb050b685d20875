import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, ApiSecurity, getSchemaPath, type SecuritySchemeObject } from '@nestjs/swagger';
import { ErrorBodyDto } from '../errors/error-body.dto';
import { ErrorCode, statusOf } from '../errors/error-code';

/**
 * The RFC 9421 headers as OpenAPI security schemes, one per header. A
 * requirement lists them together (all must be sent). OpenAPI has no scheme
 * for HTTP message signatures; apiKey-in-header is the closest that lets
 * Swagger UI send pasted headers (e.g. from `vestauth primitives headers`).
 */
export const SIGNATURE_SECURITY_SCHEMES: Record<SignatureHeader, SecuritySchemeObject> = {
  Signature: {
    type: 'apiKey',
    in: 'header',
    name: 'Signature',
    description: 'RFC 9421 `Signature` dictionary, e.g. `sig1=:<base64 Ed25519 signature>:`.',
  },
  'Signature-Input': {
    type: 'apiKey',
    in: 'header',
    name: 'Signature-Input',
    description:
      'RFC 9421 `Signature-Input`, e.g. `sig1=("@authority");created=…;keyid="<RFC 7638 thumbprint>";alg="ed25519";expires=…;nonce="…";tag="web-bot-auth"`. ' +
      'Must cover `@authority` (or `@target-uri`) for the host the request is sent to; a signature lives at most 300 s (+ clock skew) and its nonce is single use.',
  },
  'Signature-Agent': {
    type: 'apiKey',
    in: 'header',
    name: 'Signature-Agent',
    description: 'The agent\'s directory host as an RFC 8941 dictionary, e.g. `sig1="http://agent-<24 hex>.<authority host>"`.',
  },
};

export type SignatureHeader = 'Signature' | 'Signature-Input' | 'Signature-Agent';

/** Documents that the route needs a signed request: all listed signature headers together. */
export function ApiSignedRequest(headers: readonly SignatureHeader[] = ['Signature', 'Signature-Input', 'Signature-Agent']): ClassDecorator & MethodDecorator {
  return ApiSecurity(Object.fromEntries(headers.map((header) => [header, []])));
}

/**
 * Documents the error responses a route can give: one response per status,
 * each the ErrorBody schema with `code` narrowed to the codes listed for it.
 * Give every code of a route (or controller) in one call: a second call for
 * the same status would replace the first one's schema.
 */
export function ApiErrors(...codes: ErrorCode[]): ClassDecorator & MethodDecorator {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(codes)) {
    const status = statusOf(code);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses = [...byStatus].map(([status, statusCodes]) => ApiResponse({ status, ...errorResponse(status, statusCodes) }));
  return applyDecorators(ApiExtraModels(ErrorBodyDto), ...responses);
}

/** Errors any request with a body can get from the JSON body parser, before routing. */
export const BODY_ERROR_CODES: readonly ErrorCode[] = ['INVALID_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];

/** An error response object: the ErrorBody schema with its status and code narrowed. */
export function errorResponse(status: number, codes: readonly ErrorCode[]): { description: string; schema: Record<string, unknown> } {
  return {
    description: `Error codes: ${codes.map((code) => `\`${code}\``).join(', ')}.`,
    schema: {
      allOf: [
        { $ref: getSchemaPath(ErrorBodyDto) },
        {
          type: 'object',
          properties: {
            error: {
              type: 'object',
              properties: { status: { type: 'integer', enum: [status] }, code: { type: 'string', enum: [...codes] } },
            },
          },
        },
      ],
    },
  };
}
