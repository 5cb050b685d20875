import { Body, Controller, HttpCode, Post, Req, UseInterceptors } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { ErrorCode } from '../common/errors/error-code';
import { ApiErrors, ApiSignedRequest, BODY_ERROR_CODES } from '../common/http/openapi.decorators';
import { VERIFICATION_ERROR_CODES } from '../verification/signed-agent.decorator';
import { PublicKeyBodyDto, RegisterResponse, RotateResponse } from './dto/register.dto';
import { RegistrationAuditInterceptor, type AuditSubjectRequest } from './registration-audit.interceptor';
import { RegistrationService } from './registration.service';
import { RegistrationMetricsInterceptor } from './registration-metrics.interceptor';
import { RegistrationOperationOf } from './registration-operation.decorator';

/** The route paths, also given to the body parser's refusal handling (src/bootstrap.ts). */
export const REGISTRATION_ROUTES = { register: 'register', rotate: 'rotate' } as const;

/** Malformed bodies and keys, refused before any signature work. */
const KEY_BODY_ERROR_CODES: readonly ErrorCode[] = [...BODY_ERROR_CODES, 'VALIDATION_FAILED', 'INVALID_PUBLIC_JWK', 'PRIVATE_KEY_MATERIAL', 'KEY_ID_MISMATCH', 'RATE_LIMITED'];

/** Proof-of-possession needs no agent: no Signature-Agent, any tag, no key lookup. */
const NOT_FOR_REGISTER: readonly ErrorCode[] = ['MISSING_SIGNATURE_AGENT', 'INVALID_SIGNATURE_AGENT', 'WRONG_TAG', 'UNKNOWN_KEY', 'REVOKED_KEY', 'UNTRUSTED_SIGNATURE_AGENT'];

@ApiTags('registration')
@Controller()
@UseInterceptors(RegistrationMetricsInterceptor, RegistrationAuditInterceptor)
export class RegistrationController {
  constructor(private readonly registration: RegistrationService) {}

  /** Proof-of-possession registration: signed by the key in the body. Idempotent per key. */
  @Post(REGISTRATION_ROUTES.register)
  @RegistrationOperationOf('register')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Register an agent by proof-of-possession',
    description:
      'The request is signed by the very key in the body (`keyid` = its RFC 7638 thumbprint), with no `Signature-Agent`; any `tag` is accepted ' +
      '(vestauth 0.21.1 sends `tag="null"`). Idempotent per key: registering a known key returns the same agent with `is_new: false`.',
  })
  @ApiSignedRequest(['Signature', 'Signature-Input'])
  @ApiOkResponse({ type: RegisterResponse })
  @ApiErrors(...KEY_BODY_ERROR_CODES, ...VERIFICATION_ERROR_CODES.filter((code) => !NOT_FOR_REGISTER.includes(code)), 'KEY_CONFLICT')
  register(@Req() req: AuditSubjectRequest, @Body() body: PublicKeyBodyDto): Promise<RegisterResponse> {
    return this.registration.register(req, body.public_jwk);
  }

  /** Signed by the agent's current key; the body's key replaces it. */
  @Post(REGISTRATION_ROUTES.rotate)
  @RegistrationOperationOf('rotate')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Rotate the agent\'s key',
    description:
      'Signed by the agent\'s current key, with `Signature-Agent`. The key in the body becomes the only active key; ' +
      'the current key is revoked in the same transaction and stops verifying at once.',
  })
  @ApiSignedRequest()
  @ApiOkResponse({ type: RotateResponse })
  @ApiErrors(...KEY_BODY_ERROR_CODES, ...VERIFICATION_ERROR_CODES, 'KEY_CONFLICT')
  rotate(@Req() req: AuditSubjectRequest, @Body() body: PublicKeyBodyDto): Promise<RotateResponse> {
    return this.registration.rotate(req, body.public_jwk);
  }
}
