/**
 * Checks values against OpenAI's published response schemas (JSON Schema 2020-12 with OpenAPI's
 * `nullable`), copied into test/fixtures/openai-api/schemas.json and responses-schemas.json (its
 * README.md names the source and licence). No JSON Schema validator for 2020-12 is installed at
 * the top of node_modules (only Ajv 6, a draft-07 one, as an eslint dependency), so this is a small
 * one for the keywords those schemas use; any other validating keyword fails loudly rather than
 * pass.
 */
import { readFileSync } from 'node:fs';

export type OpenAISchemaName =
  | 'CreateChatCompletionResponse'
  | 'CreateChatCompletionStreamResponse'
  | 'ListModelsResponse'
  | 'CreateEmbeddingResponse'
  | 'ErrorResponse'
  /** The body of `POST /v1/responses` and `GET /v1/responses/{id}`. */
  | 'Response'
  /** One event of a Responses stream. */
  | 'ResponseStreamEvent';

type Schema = Record<string, unknown>;

const load = (file: string) =>
  JSON.parse(
    readFileSync(new URL(`../fixtures/openai-api/${file}`, import.meta.url), 'utf8'),
  ) as Record<string, Schema>;
/** Both files come from one OpenAPI document: the few names they share hold the same schema. */
const schemas = { ...load('schemas.json'), ...load('responses-schemas.json') };

/** Keywords that only describe; everything else must be understood below. */
const annotations = new Set([
  'description',
  'title',
  'default',
  'deprecated',
  'example',
  'examples',
  'format',
  'discriminator',
  'nullable',
  'x-stainless-const',
  'x-oaiMeta',
  'x-oaiTypeLabel',
  '$recursiveAnchor',
]);
const understood = new Set([
  '$ref',
  'type',
  'enum',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'anyOf',
  'oneOf',
  'allOf',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'minimum',
  'maximum',
  'pattern',
  'maxProperties',
  'propertyNames',
]);

/** Every way `value` breaks the named schema, as `path: what`; empty when it conforms. */
export function schemaErrors(name: OpenAISchemaName, value: unknown): string[] {
  const errors: string[] = [];
  check(resolve(`#/components/schemas/${name}`), value, '$', errors);
  return errors;
}

/** Throws, listing every violation, unless `value` conforms to the named schema. */
export function assertSchema(name: OpenAISchemaName, value: unknown): void {
  const errors = schemaErrors(name, value);
  if (errors.length > 0) {
    throw new Error(`not a valid ${name}:\n  ${errors.join('\n  ')}\n${JSON.stringify(value)}`);
  }
}

function resolve(ref: string): Schema {
  const name = ref.split('/').pop()!;
  const schema = schemas[name];
  if (!schema) throw new Error(`schemas.json has no ${name} (from ${ref})`);
  return schema;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function hasType(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

function check(schema: Schema, value: unknown, path: string, errors: string[]): void {
  for (const keyword of Object.keys(schema)) {
    if (!understood.has(keyword) && !annotations.has(keyword) && !keyword.startsWith('x-')) {
      throw new Error(`${path}: the schema uses "${keyword}", which this checker does not know`);
    }
  }
  if (value === null && schema.nullable === true) return;
  if (typeof schema.$ref === 'string') check(resolve(schema.$ref), value, path, errors);
  if (Array.isArray(schema.allOf)) {
    for (const part of schema.allOf as Schema[]) check(part, value, path, errors);
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((type) => hasType(value, type))) {
      errors.push(`${path}: is ${typeOf(value)}, not ${types.join(' | ')}`);
      return;
    }
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) {
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (Array.isArray(schema.anyOf)) {
    const passing = (schema.anyOf as Schema[]).filter((s) => matches(s, value, path));
    if (passing.length === 0) {
      errors.push(
        `${path}: matches none of anyOf${closest(schema.anyOf as Schema[], value, path)}`,
      );
    }
  }
  if (Array.isArray(schema.oneOf)) {
    const passing = (schema.oneOf as Schema[]).filter((s) => matches(s, value, path));
    if (passing.length !== 1) {
      const near = passing.length === 0 ? closest(schema.oneOf as Schema[], value, path) : '';
      errors.push(`${path}: matches ${passing.length} of oneOf, not 1${near}`);
    }
  }
  checkBounds(schema, value, path, errors);
  if (typeOf(value) === 'object')
    checkObject(schema, value as Record<string, unknown>, path, errors);
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => check(schema.items as Schema, item, `${path}[${i}]`, errors));
  }
}

/** Lengths, counts, ranges and patterns. */
function checkBounds(schema: Schema, value: unknown, path: string, errors: string[]): void {
  const bound = (keyword: string, ok: (limit: number) => boolean) => {
    const limit = schema[keyword];
    if (typeof limit === 'number' && !ok(limit)) errors.push(`${path}: ${keyword} ${limit}`);
  };
  if (typeof value === 'string') {
    bound('minLength', (limit) => [...value].length >= limit);
    bound('maxLength', (limit) => [...value].length <= limit);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) {
      errors.push(`${path}: does not match ${schema.pattern}`);
    }
  }
  if (Array.isArray(value)) {
    bound('minItems', (limit) => value.length >= limit);
    bound('maxItems', (limit) => value.length <= limit);
  }
  if (typeof value === 'number') {
    bound('minimum', (limit) => value >= limit);
    bound('maximum', (limit) => value <= limit);
  }
  if (typeOf(value) === 'object') {
    const keys = Object.keys(value as object);
    bound('maxProperties', (limit) => keys.length <= limit);
    if (typeof schema.propertyNames === 'object') {
      for (const key of keys) check(schema.propertyNames as Schema, key, `${path}[key]`, errors);
    }
  }
}

function checkObject(
  schema: Schema,
  value: Record<string, unknown>,
  path: string,
  errors: string[],
): void {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  for (const key of (schema.required ?? []) as string[]) {
    if (value[key] === undefined) errors.push(`${path}.${key}: is required`);
  }
  for (const [key, item] of Object.entries(value)) {
    const property = properties[key];
    if (property) check(property, item, `${path}.${key}`, errors);
    else if (schema.additionalProperties === false) errors.push(`${path}.${key}: is not allowed`);
    else if (typeof schema.additionalProperties === 'object') {
      check(schema.additionalProperties as Schema, item, `${path}.${key}`, errors);
    }
  }
}

/** The errors of the branch that came nearest, to say why none matched. */
function closest(branches: readonly Schema[], value: unknown, path: string): string {
  let best: string[] | undefined;
  for (const branch of branches) {
    const errors: string[] = [];
    check(branch, value, path, errors);
    if (!best || errors.length < best.length) best = errors;
  }
  return best && best.length > 0 ? ` (nearest: ${best.join('; ')})` : '';
}

function matches(schema: Schema, value: unknown, path: string): boolean {
  const errors: string[] = [];
  check(schema, value, path, errors);
  return errors.length === 0;
}
