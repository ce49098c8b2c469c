import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { EndpointRow } from '../outbound.tables.js';

/** An endpoint as the API shows it: never a secret. */
export class EndpointView {
  @ApiProperty() endpointId!: string;
  @ApiProperty() url!: string;
  @ApiProperty({ type: [String] }) events!: string[];
  @ApiProperty({ type: String, nullable: true }) description!: string | null;
  @ApiProperty({ enum: ['enabled', 'disabled'] }) status!: 'enabled' | 'disabled';
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    format: 'date-time',
    description: 'while set and ahead: the previous secret still signs',
  })
  previousSecretExpiresAt!: string | null;
  @ApiProperty({ type: 'integer', description: 'the position of its registration' }) position!: number;
}

export class EndpointPage {
  @ApiProperty({ type: [EndpointView] }) items!: EndpointView[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}

export class EndpointCreatedView extends EndpointView {
  @ApiProperty({
    description:
      '`whsec_` + base64: shown in this answer, and in a repeat of its Idempotency-Key while the secret still signs (absent once superseded: rotate)',
  })
  secret!: string;
}

export class SecretRotatedView {
  @ApiProperty() endpointId!: string;
  @ApiProperty({
    description:
      'the new secret, shown here and in a repeat of the Idempotency-Key while it still signs (absent once superseded)',
  })
  secret!: string;
  @ApiProperty({ enum: ['enabled', 'disabled'] }) status!: string;
  @ApiProperty({ format: 'date-time', description: 'until then the previous secret signs too' })
  previousSecretExpiresAt!: string;
  @ApiProperty({ type: 'integer' }) position!: number;
}

export class EndpointStatusView {
  @ApiProperty() endpointId!: string;
  @ApiProperty({ enum: ['enabled', 'disabled'] }) status!: string;
  @ApiProperty({ type: 'integer' }) position!: number;
}

export class AccountSettingsView {
  @ApiProperty() accountId!: string;
  @ApiPropertyOptional({ type: 'integer', nullable: true }) lowBalanceThreshold!: number | null;
  @ApiProperty({ type: 'integer' }) position!: number;
}

export function endpointView(row: EndpointRow): EndpointView {
  return {
    endpointId: row.endpoint_id,
    url: row.url,
    events: row.events,
    description: row.description,
    status: row.status,
    createdAt: row.created_at.toISOString(),
    previousSecretExpiresAt: row.previous_expires_at?.toISOString() ?? null,
    position: Number(row.position),
  };
}
