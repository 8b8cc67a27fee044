import type { CodegenConfig } from '@graphql-codegen/cli';
import { printSchema } from 'graphql';
import { schema } from './src/graphql/schema/index.js';

/** The SDL comes from the Pothos schema itself; schema/schema.graphql is committed and checked in CI. */
const config: CodegenConfig = {
  schema: printSchema(schema),
  overwrite: true,
  generates: {
    'schema/schema.graphql': { plugins: ['schema-ast'] },
  },
};

export default config;
