import { Global, Module } from '@nestjs/common';
import { ExpireProjectHandler } from './expire-project/expire-project.handler.js';
import { WatchdogService } from './watchdog.service.js';

/** The watchdog (global: health reports its status). */
@Global()
@Module({
  providers: [ExpireProjectHandler, WatchdogService],
  exports: [WatchdogService],
})
export class WatchdogModule {}
