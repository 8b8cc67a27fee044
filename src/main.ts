#!/usr/bin/env node
/**
 * The CLI's entry. It runs in production mode unless NODE_ENV says otherwise, set before any
 * library loads: graphql-js, in development mode, re-checks every failed `instanceof` by class
 * name to warn of duplicate copies (a few percent of a GraphQL request's CPU); then the CLI.
 */
process.env.NODE_ENV ??= 'production';
await import('./cli.js');
