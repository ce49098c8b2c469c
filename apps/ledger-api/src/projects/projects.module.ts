import { Module } from '@nestjs/common';
import { ReadModel } from '../queries/read-model.js';
import { ProjectsController } from './projects.controller.js';
import { StartProjectHandler } from './start-project/start-project.handler.js';
import { ClaimProjectHandler } from './claim-project/claim-project.handler.js';
import { HeartbeatProjectHandler } from './heartbeat-project/heartbeat-project.handler.js';
import { CompleteProjectHandler } from './complete-project/complete-project.handler.js';
import { FailProjectHandler } from './fail-project/fail-project.handler.js';
import { AttachAssetsHandler } from './attach-assets/attach-assets.handler.js';
import { GetProjectHandler } from './get-project/get-project.handler.js';
import { ListProjectsHandler } from './list-projects/list-projects.handler.js';

@Module({
  controllers: [ProjectsController],
  providers: [
    ReadModel,
    StartProjectHandler,
    ClaimProjectHandler,
    HeartbeatProjectHandler,
    CompleteProjectHandler,
    FailProjectHandler,
    AttachAssetsHandler,
    GetProjectHandler,
    ListProjectsHandler,
  ],
})
export class ProjectsModule {}
