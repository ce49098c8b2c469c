import { ApiProperty } from '@nestjs/swagger';
import { IsInt, Max, Min, ValidateIf } from 'class-validator';
import {
  AMOUNT_MAX,
  decideChangeAccountSettings,
  type AccountSettingsReply,
  type ChangeAccountSettings,
} from '@ledger/domain';
import type { CommandHandler, Untimed } from '../../commands/command-handler.js';

export class ChangeAccountSettingsDto {
  @ApiProperty({
    type: 'integer',
    nullable: true,
    minimum: 0,
    maximum: AMOUNT_MAX,
    description:
      'balance.low is sent when the balance goes from at least this to below it; null: none for this account',
  })
  @ValidateIf((_, value) => value !== null)
  @IsInt()
  @Min(0)
  @Max(AMOUNT_MAX)
  lowBalanceThreshold!: number | null;
}

/** Decided on the account's settings stream alone: its money stream is not touched. */
export const changeAccountSettings: CommandHandler<
  Untimed<ChangeAccountSettings>,
  'accountSettings',
  AccountSettingsReply
> = {
  streams: (command) => ({ accountSettings: command.accountId }),
  decide: ({ accountSettings }, command, now) => decideChangeAccountSettings(accountSettings, { ...command, now }),
};
