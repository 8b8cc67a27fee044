/** The Pothos schema builder: context, scalars, plugins. No types are defined here. */
import SchemaBuilder from '@pothos/core';
import { dateTimeScalar, jsonScalar } from './scalars.js';
import type { Context } from './context.js';

export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: {
    JSON: { Input: unknown; Output: unknown };
    DateTime: { Input: Date; Output: Date };
  };
  DefaultFieldNullability: false;
  DefaultInputFieldRequiredness: false;
}>({
  defaultFieldNullability: false,
});

builder.scalarType('JSON', jsonScalar);
builder.scalarType('DateTime', dateTimeScalar);
builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
