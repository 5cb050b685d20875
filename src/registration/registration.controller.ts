import { Body, Controller, HttpCode, Post, Req, UseInterceptors } from '@nestjs/common';
import { PublicKeyBodyDto, RegisterResponse, RotateResponse } from './dto/register.dto';
import { RegistrationAuditInterceptor, type AuditSubjectRequest } from './registration-audit.interceptor';
import { RegistrationService } from './registration.service';
import { RegistrationMetricsInterceptor } from './registration-metrics.interceptor';

@Controller()
@UseInterceptors(RegistrationMetricsInterceptor, RegistrationAuditInterceptor)
export class RegistrationController {
  constructor(private readonly registration: RegistrationService) {}

  /** Proof-of-possession registration: signed by the key in the body. Idempotent per key. */
  @Post('register')
  @HttpCode(200)
  register(@Req() req: AuditSubjectRequest, @Body() body: PublicKeyBodyDto): Promise<RegisterResponse> {
    return this.registration.register(req, body.public_jwk);
  }

  /** Signed by the agent's current key; the body's key replaces it. */
  @Post('rotate')
  @HttpCode(200)
  rotate(@Req() req: AuditSubjectRequest, @Body() body: PublicKeyBodyDto): Promise<RotateResponse> {
    return this.registration.rotate(req, body.public_jwk);
  }
}
