import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { RESPONSE_SCHEMAS } from './http/response-schemas.js';

/** The OpenAPI document at /docs-json and its UI at /docs, generated from controllers and DTOs. */
export function setUpOpenApi(app: NestFastifyApplication): void {
  SwaggerModule.setup('docs', app, openApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}

/** The document: the routes' request DTOs, and the schemas of what they answer (http/response-schemas.ts). */
export function openApiDocument(app: NestFastifyApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('ledger')
    .setDescription('Event-sourced credit ledger: HTTP contract v1 (see API.md)')
    .setVersion('1')
    .addBearerAuth()
    .build();
  const document = SwaggerModule.createDocument(app, config, {
    // `accountsGrant`, `projectsClaim`: the names a generated client's functions get.
    operationIdFactory: (controllerKey, methodKey) =>
      `${controllerKey.charAt(0).toLowerCase()}${controllerKey.slice(1).replace(/Controller$/, '')}${methodKey.charAt(0).toUpperCase()}${methodKey.slice(1)}`,
  });
  document.components = {
    ...document.components,
    schemas: {
      ...document.components?.schemas,
      ...(RESPONSE_SCHEMAS as NonNullable<OpenAPIObject['components']>['schemas']),
    },
  };
  return document;
}
