import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min, MinLength } from 'class-validator';
import type { AgentStatus } from '../../agents/entities/agent.entity';

export class AgentListQueryDto {
  @IsOptional()
  @IsIn(['active', 'disabled'])
  status?: AgentStatus;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit: number = 50;

  @IsOptional()
  @Matches(/^agent-[0-9a-f]{24}$/, { message: 'cursor is invalid' })
  cursor?: string;
}

export class AgentUidParamDto {
  @Matches(/^agent-[0-9a-f]{24}$/, { message: 'uid must be agent-<24 hex>' })
  uid: string;
}

export class AgentKeyParamDto extends AgentUidParamDto {
  @Matches(/^[A-Za-z0-9_-]{43}$/, { message: 'kid must be an RFC 7638 thumbprint' })
  kid: string;
}

export class RevokeKeyDto {
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  reason: string;
}

export interface AgentView {
  uid: string;
  status: AgentStatus;
  created_at: string;
  disabled_at: string | null;
  active_keys: number;
}

export interface AgentKeyView {
  kid: string;
  status: 'active' | 'revoked';
  created_at: string;
  revoked_at: string | null;
  revoked_reason: string | null;
  public_jwk: Record<string, unknown>;
}

export interface AgentListResponse {
  agents: AgentView[];
  next_cursor: string | null;
}
