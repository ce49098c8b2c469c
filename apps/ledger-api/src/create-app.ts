import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { AppModule, type AppModuleOptions } from './app.module.js';
import { setUpOpenApi } from './openapi.js';
import { createValidationPipe } from './http/validation.js';
import { ledgerMetrics } from './metrics/metrics.js';
import { requestIdOf } from './infrastructure/log-format.js';

const BODY_LIMIT_BYTES = 1024 * 1024;

/** Builds the HTTP app on Fastify; `main.ts` listens, tests may inject. */
export async function createApp(options: AppModuleOptions): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.register(options),
    // Ids may be 128 characters, stream names more: Fastify's default cap on a path parameter is 100.
    new FastifyAdapter({ bodyLimit: BODY_LIMIT_BYTES, routerOptions: { maxParamLength: 512 }, genReqId: requestIdOf }),
    // rawBody: webhook signatures are checked over the body's bytes as received (request.rawBody).
    { bufferLogs: true, rawBody: true },
  );
  app.useLogger(app.get(Logger));
  const fastify = app.getHttpAdapter().getInstance();
  // The caller can quote it: it is on every log line of the request and in error bodies.
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    ledgerMetrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });
  app.useGlobalPipes(createValidationPipe());
  setUpOpenApi(app);
  await app.init();
  return app;
}
