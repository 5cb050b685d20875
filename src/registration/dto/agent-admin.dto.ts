import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import { Ed25519PublicJwkView } from '../../agents/dto/public-jwk-view.dto';
import type { AgentStatus } from '../../agents/entities/agent.entity';
import { AuditEventView } from '../../audit/dto/audit-query.dto';

const UID_PATTERN = '^agent-[0-9a-f]{24}$';

export class AgentListQueryDto {
  @ApiPropertyOptional({ enum: ['active', 'disabled'] })
  @IsOptional()
  @IsIn(['active', 'disabled'])
  status?: AgentStatus;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 500, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit: number = 50;

  @ApiPropertyOptional({ description: '`next_cursor` of the previous page.', pattern: UID_PATTERN })
  @IsOptional()
  @Matches(/^agent-[0-9a-f]{24}$/, { message: 'cursor is invalid' })
  cursor?: string;
}

export class AgentUidParamDto {
  @ApiProperty({ description: 'The agent uid.', pattern: UID_PATTERN, example: 'agent-4b94ccb4f5a6c3b8d3e1f0a2' })
  @Matches(/^agent-[0-9a-f]{24}$/, { message: 'uid must be agent-<24 hex>' })
  uid: string;
}

export class AgentKeyParamDto extends AgentUidParamDto {
  @ApiProperty({ description: 'RFC 7638 thumbprint of the key.', pattern: '^[A-Za-z0-9_-]{43}$' })
  @Matches(/^[A-Za-z0-9_-]{43}$/, { message: 'kid must be an RFC 7638 thumbprint' })
  kid: string;
}

export class RevokeKeyDto {
  @ApiProperty({ description: 'Why the key is revoked; recorded with the key and in the audit trail.', minLength: 1, maxLength: 200, example: 'key leaked' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  // PostgreSQL stores neither NUL nor a lone surrogate (both answered 500),
  // and no other control character belongs in an audit reason.
  @Matches(/^[^\p{Cc}\p{Cs}]*$/u, { message: 'reason must be plain text without control characters' })
  reason: string;
}

export class AgentView {
  @ApiProperty({ example: 'agent-4b94ccb4f5a6c3b8d3e1f0a2' })
  uid: string;

  @ApiProperty({ enum: ['active', 'disabled'] })
  status: AgentStatus;

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ type: 'string', format: 'date-time', nullable: true })
  disabled_at: string | null;

  @ApiProperty({ type: 'integer' })
  active_keys: number;
}

export class AgentKeyView {
  @ApiProperty()
  kid: string;

  @ApiProperty({ enum: ['active', 'revoked'] })
  status: 'active' | 'revoked';

  @ApiProperty({ format: 'date-time' })
  created_at: string;

  @ApiProperty({ type: 'string', format: 'date-time', nullable: true })
  revoked_at: string | null;

  @ApiProperty({ type: 'string', nullable: true, description: '`rotated`, or the reason an admin gave.' })
  revoked_reason: string | null;

  @ApiProperty({ type: () => Ed25519PublicJwkView })
  public_jwk: Record<string, unknown>;
}

export class AgentListResponse {
  @ApiProperty({ type: () => [AgentView] })
  agents: AgentView[];

  @ApiProperty({ type: 'string', nullable: true, description: 'Pass as `cursor` for the next page; null on the last one.' })
  next_cursor: string | null;
}

export class AgentDetail {
  @ApiProperty({ type: () => AgentView })
  agent: AgentView;

  @ApiProperty({ type: () => [AgentKeyView], description: 'All keys, active and revoked.' })
  keys: AgentKeyView[];

  @ApiProperty({ type: () => [AuditEventView], description: 'The agent\'s latest audit events, newest first (at most 20).' })
  events: AuditEventView[];
}
