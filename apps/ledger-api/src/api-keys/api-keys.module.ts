import { Module } from '@nestjs/common';
import { ApiKeyFeed } from './api-key-feed.js';
import { ApiKeysController } from './api-keys.controller.js';

/** The keys API (admin) and the feed that keeps this replica's key registry current. */
@Module({
  controllers: [ApiKeysController],
  providers: [ApiKeyFeed],
})
export class ApiKeysModule {}
