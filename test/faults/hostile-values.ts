import fc from 'fast-check';

/**
 * The values of hostile requests: odd texts and numbers, each bound of a schema and one
 * past it, fields a caller may not set, keys written twice, bodies that are not JSON.
 * Kept as JSON text pieces, so that what JSON.stringify cannot write (`1e309`, a key
 * twice) is sent as is.
 */
export interface Schema {
  type?: string;
  $ref?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  maxItems?: number;
  example?: unknown;
  format?: string;
}

/** JSON text of a value; a `Raw` piece is written as it is. */
class Raw {
  constructor(readonly text: string) {}
}
type Piece = Raw | null | boolean | number | string | Piece[] | { [key: string]: Piece } | DuplicateKeys;
/** An object written with one key twice (parsers disagree on which wins). */
class DuplicateKeys {
  constructor(
    readonly entries: [string, Piece][],
    readonly key: string,
  ) {}
}

export function jsonText(value: Piece): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof DuplicateKeys) {
    const all = [...value.entries, [value.key, value.entries.find(([k]) => k === value.key)?.[1] ?? 1] as const];
    return `{${all.map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v as Piece)}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(jsonText).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .map(([k, v]) => `${JSON.stringify(k)}:${jsonText(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const TEXT_ODDITIES = [
  '',
  ' ',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  'null',
  'undefined',
  'true',
  '0x10',
  '١٢٣',
  '\u0000',
  'a\u0000b',
  '\r\n',
  '\u202eevil',
  '\ud800',
  '😀'.repeat(70),
  'ǅ̴̡̛͚͈',
  '../../etc/passwd',
  '..\\..\\windows',
  '%2e%2e%2f',
  "' OR 1=1 --",
  '"; DROP TABLE event_store.events; --',
  '$1',
  '<script>alert(1)</script>',
  '{{7*7}}',
  '__proto__',
  'constructor',
  'x'.repeat(257),
  'x'.repeat(5_000),
];
const NUMBER_ODDITIES: Piece[] = [
  0,
  -0,
  -1,
  1.5,
  0.1,
  -1e12,
  1e12,
  1e12 + 1,
  2 ** 31,
  2 ** 53,
  2 ** 53 + 2,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  new Raw('1e309'),
  new Raw('-1e309'),
  new Raw('1E2'),
  new Raw('100000000000000000000000000000'),
  new Raw('1.0'),
  new Raw('5e-324'),
];

const oddity: fc.Arbitrary<Piece> = fc.oneof(
  fc.constantFrom<Piece>(...TEXT_ODDITIES, ...NUMBER_ODDITIES, null, true, false, [], {}, [1, 2], {
    nested: { deep: 1 },
  }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Piece>,
);

/** A value the schema would accept (its example, first enum value, minimum), when it names one. */
export function validOf(schema: Schema): Piece {
  if (schema.example !== undefined) return schema.example as Piece;
  if (schema.enum) return schema.enum[0] as Piece;
  if (schema.format === 'date-time') return new Date(Date.now() + 86_400_000).toISOString();
  if (schema.format === 'uri') return 'https://cdn.test/a.png';
  switch (schema.type) {
    case 'integer':
    case 'number':
      return schema.minimum ?? 1;
    case 'array':
      return schema.items ? [validOf(schema.items)] : [];
    case 'object':
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, validOf(v)]));
    default:
      return 'x';
  }
}

/** The limits of a schema and one past them, as JSON. */
export function boundariesOf(schema: Schema): Piece[] {
  const out: Piece[] = [];
  for (const bound of [schema.minimum, schema.maximum]) {
    if (bound !== undefined) out.push(bound - 1, bound, bound + 1, bound + 0.5, String(bound));
  }
  if (schema.maxLength !== undefined) out.push('y'.repeat(schema.maxLength), 'y'.repeat(schema.maxLength + 1));
  if (schema.maxItems !== undefined) out.push(Array.from({ length: schema.maxItems + 1 }, () => 'https://a.test/x'));
  return out;
}

const MASS_ASSIGNMENT = [
  'balance',
  'status',
  'attempt',
  'position',
  'refunded',
  'revokedAt',
  'createdAt',
  'secret',
  'digest',
  'keyId',
  'source',
  'lots',
  'version',
  '__proto__',
  'constructor',
  'prototype',
];

export function bodyOf(schema: Schema): fc.Arbitrary<{ text: string; shape: string }> {
  const valid = validOf(schema) as Record<string, Piece>;
  const fields = Object.keys(schema.properties ?? {});
  const field = fields.length > 0 ? fc.constantFrom(...fields) : fc.constant('amount');
  const propertyOf = (name: string) => schema.properties?.[name] ?? {};
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant({ text: jsonText(valid), shape: 'valid' }) },
    {
      weight: 6,
      arbitrary: fc
        .tuple(field, oddity)
        .map(([name, value]) => ({ text: jsonText({ ...valid, [name]: value }), shape: `field ${name} odd` })),
    },
    {
      weight: 4,
      arbitrary: field.chain((name) =>
        fc
          .constantFrom(...boundariesOf(propertyOf(name)), null)
          .map((value) => ({ text: jsonText({ ...valid, [name]: value }), shape: `field ${name} at a bound` })),
      ),
    },
    {
      weight: 2,
      arbitrary: field.map((name) => {
        const { [name]: _dropped, ...rest } = valid;
        return { text: jsonText(rest), shape: `field ${name} missing` };
      }),
    },
    {
      weight: 3,
      arbitrary: fc
        .tuple(fc.constantFrom(...MASS_ASSIGNMENT), oddity)
        .map(([name, value]) => ({ text: jsonText({ ...valid, [name]: value }), shape: `mass-assigned ${name}` })),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(field, oddity).map(([name, value]) => ({
        text: jsonText(new DuplicateKeys([...Object.entries(valid), [name, value]], name)),
        shape: `duplicated key ${name}`,
      })),
    },
    {
      weight: 2,
      arbitrary: fc.oneof(
        oddity.map((value) => ({ text: jsonText(value), shape: 'body not an object' })),
        fc.string({ maxLength: 60 }).map((text) => ({ text, shape: 'body not JSON' })),
        fc.constantFrom('', '{', '{"a":', '[', 'null', '{"__proto__":{"admin":true}}').map((text) => ({
          text,
          shape: 'body broken',
        })),
      ),
    },
    {
      weight: 1,
      arbitrary: field.map((name) => ({
        text: jsonText({ ...valid, [name]: 'z'.repeat(2 * 1024 * 1024) }),
        shape: `2 MB in ${name}`,
      })),
    },
  );
}
