import { Module } from '@nestjs/common';
import { ReadModel } from '../queries/read-model.js';
import { ProjectsController } from './projects.controller.js';
import { GetProjectHandler } from './get-project/get-project.handler.js';
import { ListProjectsHandler } from './list-projects/list-projects.handler.js';

@Module({
  controllers: [ProjectsController],
  providers: [ReadModel, GetProjectHandler, ListProjectsHandler],
})
export class ProjectsModule {}
