import { Module } from '@nestjs/common';
import { ProjectsController } from './projects.controller.js';
import { ProjectQueries } from './project.queries.js';
import { StartProjectHandler } from './start-project/start-project.handler.js';
import { ClaimProjectHandler } from './claim-project/claim-project.handler.js';
import { HeartbeatProjectHandler } from './heartbeat-project/heartbeat-project.handler.js';
import { CompleteProjectHandler } from './complete-project/complete-project.handler.js';
import { FailProjectHandler } from './fail-project/fail-project.handler.js';

@Module({
  controllers: [ProjectsController],
  providers: [
    ProjectQueries,
    StartProjectHandler,
    ClaimProjectHandler,
    HeartbeatProjectHandler,
    CompleteProjectHandler,
    FailProjectHandler,
  ],
})
export class ProjectsModule {}
