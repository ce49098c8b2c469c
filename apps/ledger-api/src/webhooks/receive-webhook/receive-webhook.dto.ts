import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsOptional, IsString, Length, ValidateBy, ValidateNested, buildMessage } from 'class-validator';
import { ERROR_MESSAGE_LENGTH_MAX, TEXT_LENGTH_MAX, isStorableString, type ProjectAssets } from '@ledger/domain';
import { AssetsDto } from '../../projects/complete-project/complete-project.dto.js';

export const DELIVERY_ID_LENGTH_MAX = 255;

/** Text PostgreSQL can keep (no U+0000, no lone surrogate): the task id is looked up and stored as it is. */
function IsStorableText(): PropertyDecorator {
  return ValidateBy({
    name: 'isStorableText',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && isStorableString(value),
      defaultMessage: buildMessage((each) => `${each}$property must not hold U+0000 or a lone surrogate`),
    },
  });
}

/**
 * `POST /v1/webhooks/{provider}`. Fields the ledger does not know are ignored, not
 * refused (the signature vouches for the body; providers add fields), unlike the
 * commands' bodies; the known ones are checked as strictly as anywhere.
 */
export class WebhookDeliveryDto {
  @ApiProperty({ maxLength: TEXT_LENGTH_MAX, description: "the provider's task: a project's `externalTaskId`" })
  @IsString()
  @Length(1, TEXT_LENGTH_MAX)
  @IsStorableText()
  taskId!: string;

  @ApiProperty({ enum: ['succeeded', 'failed'] })
  @IsIn(['succeeded', 'failed'])
  status!: 'succeeded' | 'failed';

  @ApiPropertyOptional({ type: AssetsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => AssetsDto)
  assets?: AssetsDto;

  @ApiPropertyOptional({ maxLength: ERROR_MESSAGE_LENGTH_MAX, description: 'why the task failed' })
  @IsOptional()
  @IsString()
  @Length(1, ERROR_MESSAGE_LENGTH_MAX)
  error?: string;

  @ApiPropertyOptional({
    maxLength: DELIVERY_ID_LENGTH_MAX,
    description: "the provider's id of this delivery; without it, the body's SHA-256 identifies it",
  })
  @IsOptional()
  @IsString()
  @Length(1, DELIVERY_ID_LENGTH_MAX)
  deliveryId?: string;
}

/** The known asset keys of a validated delivery, as plain data (the body may carry others). */
export function assetsOf(delivery: WebhookDeliveryDto): ProjectAssets | undefined {
  const { assets } = delivery;
  if (assets === undefined) return undefined;
  const { assetUrl, previewUrl, thumbnailUrl, resultUrls } = assets;
  return { assetUrl, previewUrl, thumbnailUrl, resultUrls };
}
