import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsInt, IsOptional, IsUrl, MaxLength, Max, Min, ValidateNested } from 'class-validator';
import { AMOUNT_MAX, RESULT_URLS_MAX, URL_LENGTH_MAX } from '@ledger/domain';

const HTTP_URL = { protocols: ['http', 'https'], require_protocol: true, require_tld: false };

export class AssetsDto {
  @ApiPropertyOptional({ format: 'uri', maxLength: URL_LENGTH_MAX })
  @IsOptional()
  @IsUrl(HTTP_URL)
  @MaxLength(URL_LENGTH_MAX)
  assetUrl?: string;

  @ApiPropertyOptional({ format: 'uri', maxLength: URL_LENGTH_MAX })
  @IsOptional()
  @IsUrl(HTTP_URL)
  @MaxLength(URL_LENGTH_MAX)
  previewUrl?: string;

  @ApiPropertyOptional({ format: 'uri', maxLength: URL_LENGTH_MAX })
  @IsOptional()
  @IsUrl(HTTP_URL)
  @MaxLength(URL_LENGTH_MAX)
  thumbnailUrl?: string;

  @ApiPropertyOptional({ type: [String], maxItems: RESULT_URLS_MAX })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(RESULT_URLS_MAX)
  @IsUrl(HTTP_URL, { each: true })
  @MaxLength(URL_LENGTH_MAX, { each: true })
  resultUrls?: string[];
}

export class CompleteProjectDto {
  @ApiProperty({ type: 'integer', minimum: 1 })
  @IsInt()
  @Min(1)
  attempt!: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: AMOUNT_MAX, description: 'defaults to the cost' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(AMOUNT_MAX)
  creditsUsed?: number;

  @ApiPropertyOptional({ type: AssetsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => AssetsDto)
  assets?: AssetsDto;
}
