/** The two scalars the schema needs: JSON (any JSON value, as is) and DateTime (ISO 8601, UTC). */
import { GraphQLError, Kind, type ValueNode } from 'graphql';

function literalToJson(node: ValueNode, variables?: Record<string, unknown> | null): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map((value) => literalToJson(value, variables));
    case Kind.OBJECT:
      return Object.fromEntries(
        node.fields.map((field) => [field.name.value, literalToJson(field.value, variables)]),
      );
    case Kind.VARIABLE:
      return variables?.[node.name.value];
    default:
      throw new GraphQLError(`JSON cannot represent a ${node.kind}`);
  }
}

export const jsonScalar = {
  description: 'Any JSON value, as is.',
  serialize: (value: unknown) => value,
  parseValue: (value: unknown) => value,
  parseLiteral: literalToJson,
};

function toDate(value: unknown): Date {
  const date =
    value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) {
    throw new GraphQLError('DateTime must be an ISO 8601 date-time such as 2026-11-01T00:00:00Z');
  }
  return date;
}

export const dateTimeScalar = {
  description: 'An ISO 8601 date-time, such as 2026-11-01T00:00:00Z.',
  serialize: (value: unknown) => toDate(value).toISOString(),
  parseValue: toDate,
  parseLiteral: (node: ValueNode) => {
    if (node.kind !== Kind.STRING) throw new GraphQLError('DateTime must be a string');
    return toDate(node.value);
  },
};
