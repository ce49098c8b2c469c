import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { bodyOf, boundariesOf, jsonText, validOf, type Schema } from './hostile-values.js';

/**
 * Hostile requests generated from the served OpenAPI document: every operation it
 * lists, with path ids, query parameters, bodies (./hostile-values.ts), content types and
 * keys a careless or malicious caller would send.
 */
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  schema?: Schema;
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: RequestBody }>>;
  components: { schemas: Record<string, Schema> };
}
interface RequestBody {
  content: Record<string, { schema: Schema }>;
}

export interface Operation {
  method: 'GET' | 'POST';
  path: string;
  parameters: Parameter[];
  body: Schema | undefined;
}

export interface HostileRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  payload: string | undefined;
  /** What was done to it, for the report of a failing case. */
  shape: string;
}

export function operationsOf(document: OpenApiDocument): Operation[] {
  const resolve = (schema: Schema): Schema => {
    if (!schema.$ref) return schema;
    return resolve(document.components.schemas[schema.$ref.split('/').pop()!]!);
  };
  const deep = (schema: Schema): Schema => {
    const s = resolve(schema);
    return {
      ...s,
      ...(s.properties
        ? { properties: Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, deep(v)])) }
        : {}),
      ...(s.items ? { items: deep(s.items) } : {}),
    };
  };
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods)
      .filter(([method]) => method === 'get' || method === 'post')
      .map(([method, operation]) => {
        const json = operation.requestBody?.content['application/json']?.schema;
        return {
          method: method.toUpperCase() as 'GET' | 'POST',
          path,
          parameters: operation.parameters ?? [],
          body: json ? deep(json) : undefined,
        };
      }),
  );
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  'application/vnd.api+json',
  '*/*',
];

function pathValue(existing: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...existing) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '..',
        '..%2F..%2Fetc%2Fpasswd',
        '%2e%2e%2f%2e%2e%2f',
        '....//....//',
        '%00',
        '%0d%0aX-Injected:1',
        '%E2%80%AE',
        '%F0%9F%98%80',
        '%ff%fe',
        'a%2Fb',
        'x'.repeat(400),
        '%20',
        'undefined',
        'null',
        'NaN',
      ),
    },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).map(encodeURIComponent) },
  );
}

function queryValue(parameter: Parameter): fc.Arbitrary<string> {
  const schema = parameter.schema ?? {};
  // A valid wait is a wait (up to 30 s for a position never reached): only its broken forms and 0.
  if (parameter.name === 'waitMs') return fc.constantFrom('0', '-1', '30001', '1.5', '1e309', 'NaN', '', 'x', '0x10');
  const bounds = boundariesOf(schema).map((v) => (typeof v === 'string' ? v : jsonText(v)));
  return fc.oneof(
    fc.constantFrom(
      ...bounds,
      '1e309',
      'NaN',
      '-1',
      '1.5',
      '0',
      '99999999999999999999999',
      '',
      ' ',
      'true',
      '2031-01-01T00:00:00Z',
      '2031-13-45T99:99:99Z',
      '0000-01-01T00:00:00Z',
      '../../etc',
      String(validOf(schema)),
    ),
    fc.string({ unit: 'binary', maxLength: 30 }),
  );
}

export interface HostileContext {
  /** One key per scope (the suite's `test-<scope>` keys), used in turn. */
  keys: Record<string, string>;
  /** Ids that exist, so a request can get past the lookup. */
  existingIds: readonly string[];
  provider: string;
  providerSecret: string;
}

export function hostileRequest(
  operations: readonly Operation[],
  context: HostileContext,
): fc.Arbitrary<HostileRequest> {
  return fc.constantFrom(...operations).chain((operation) => {
    const pathParameters = operation.parameters.filter((p) => p.in === 'path');
    const queryParameters = operation.parameters.filter((p) => p.in === 'query');
    const path = fc
      .tuple(...pathParameters.map(() => pathValue(context.existingIds)))
      .map((values) =>
        pathParameters.reduce((p, param, i) => p.replace(`{${param.name}}`, values[i]!), operation.path),
      );
    const query = fc
      .tuple(
        ...queryParameters.map((parameter) =>
          fc.option(queryValue(parameter).map((value) => `${parameter.name}=${encodeURIComponent(value)}`)),
        ),
        fc.option(fc.constantFrom('limit=1&limit=2', 'unknown=1', '__proto__=1', 'minPosition[]=1', 'a=%ZZ')),
      )
      .map((parts) => {
        const present = parts.filter((p): p is string => p !== null);
        // A position ahead of the log is waited for (default 2 s) before its 503: not waited for here.
        if (present.some((p) => p.startsWith('minPosition=')) && !present.some((p) => p.startsWith('waitMs=')))
          present.push('waitMs=0');
        return present.join('&');
      });
    const key = fc.oneof(
      // Most with the admin key, so that most requests reach validation and the handlers.
      { weight: 6, arbitrary: fc.constant(`Bearer ${context.keys.admin}`) },
      { weight: 4, arbitrary: fc.constantFrom(...Object.values(context.keys)).map((k) => `Bearer ${k}`) },
      {
        weight: 1,
        arbitrary: fc.constantFrom('', 'Bearer', 'Bearer ', 'Basic YWRtaW46YWRtaW4=', `Bearer ${'k'.repeat(5000)}`),
      },
    );
    const idempotencyKey = fc.oneof(
      { weight: 6, arbitrary: fc.uuid() },
      { weight: 1, arbitrary: fc.constantFrom('', ' ', 'x'.repeat(300), 'key\twith\ttabs', 'ÿ') },
    );
    const body = operation.body
      ? bodyOf(operation.body).map((b) => b as { text: string; shape: string } | undefined)
      : fc.constant(undefined);
    const contentType = fc.oneof(
      { weight: 6, arbitrary: fc.constant('application/json') },
      { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
      { weight: 1, arbitrary: fc.constant(null) },
    );
    const signed = fc.boolean();
    return fc
      .tuple(path, query, key, fc.option(idempotencyKey, { freq: 8 }), body, contentType, signed)
      .map(([p, q, authorization, idem, b, type, sign]): HostileRequest => {
        const headers: Record<string, string> = {};
        if (authorization) headers.authorization = authorization;
        if (operation.method === 'POST' && idem !== null) headers['idempotency-key'] = idem;
        if (type !== null) headers['content-type'] = type;
        const payload = operation.method === 'POST' ? (b?.text ?? '') : undefined;
        if (operation.path.startsWith('/v1/webhooks/{') && payload !== undefined) {
          const at = Math.floor(Date.now() / 1000);
          const digest = createHmac('sha256', context.providerSecret).update(`${at}.${payload}`).digest('hex');
          headers['x-signature'] = sign ? `t=${at},v1=${digest}` : `t=${at},v1=${'0'.repeat(64)}`;
        }
        return {
          method: operation.method,
          url: q ? `${p}?${q}` : p,
          headers,
          payload,
          shape: `${operation.method} ${operation.path}: ${b?.shape ?? 'no body'}, content-type ${type ?? 'none'}`,
        };
      });
  });
}

/** What no answer may show: a stack frame, a file of the code, SQL or a database's own words. */
export const LEAKS: readonly RegExp[] = [
  /\bat [^\s]+ \(?(?:file:|node:|\/)[^)]*:\d+/,
  /\.(?:ts|js):\d+:\d+/,
  /node_modules/,
  /\b(?:SELECT|INSERT INTO|DELETE FROM|UPDATE \w+ SET)\b/,
  /syntax error at or near/i,
  /violates [a-z ]*constraint/i,
  /relation "[^"]+"/,
  /event_store\.\w+/,
  /duplicate key value/i,
  /\bpg_[a-z_]+\(/,
];
