import { Global, Module } from '@nestjs/common';
import { WatchdogService } from './watchdog.service.js';

/** The watchdog (global: health reports its status). */
@Global()
@Module({
  providers: [WatchdogService],
  exports: [WatchdogService],
})
export class WatchdogModule {}
