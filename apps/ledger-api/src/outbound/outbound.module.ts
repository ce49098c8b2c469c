import { Global, Module } from '@nestjs/common';
import { AccountSettingsController, OutboundController } from './outbound.controller.js';
import { OutboundService } from './outbound.service.js';

/** Outbound webhooks: the endpoints API (admin), the dispatcher and senders, account settings. */
@Global()
@Module({
  controllers: [OutboundController, AccountSettingsController],
  providers: [OutboundService],
  exports: [OutboundService],
})
export class OutboundModule {}
