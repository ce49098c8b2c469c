import { Module } from '@nestjs/common';
import { AuditController } from './audit.controller.js';
import { EventsReader } from './read-events/read-events.query.js';
import { StreamReader } from './read-stream/read-stream.query.js';
import { Reconciliation } from './reconciliation/reconciliation.service.js';

/** Finance's view: streams and the global log as stored, and the reconciliation of the read models. */
@Module({
  controllers: [AuditController],
  providers: [StreamReader, EventsReader, Reconciliation],
})
export class AuditModule {}
