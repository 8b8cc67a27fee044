/**
 * The schema of conduit.yaml. Every object is strict: an unknown key is an error, so a typo
 * never passes silently. Defaults are filled here, so the rest of the code reads one
 * fully-defaulted `Config`.
 */
import { z } from 'zod';
import { ProviderTypes } from '../providers/types.js';
import { clientRequestLog, requestLogConfig } from '../requestlog/config.js';

const positiveInt = z.number().int().positive();

/** A similarity threshold: cosine similarity from 0 (exclusive) to 1. */
const similarity = z.number().gt(0).max(1);

/** A browser origin as browsers send it in `Origin`: scheme, host and port, nothing else. */
const origin = z
  .string()
  .refine(
    (value) => URL.canParse(value) && new URL(value).origin === value,
    'must be an origin such as https://app.example.com (scheme, host and port; no path, no slash)',
  );

/** A rate limit over one window: so many requests, or so many tokens, per `perSeconds`. */
export const rateLimit = z
  .strictObject({
    requests: positiveInt.optional(),
    tokens: positiveInt.optional(),
    perSeconds: positiveInt,
  })
  .refine((limit) => (limit.requests === undefined) !== (limit.tokens === undefined), {
    message: 'give exactly one of requests or tokens',
  });
export type RateLimit = z.infer<typeof rateLimit>;

const provider = z.strictObject({
  type: z.enum(ProviderTypes),
  /** Defaults to the provider's public API; required for openai-compatible. */
  baseUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Several keys form a pool, spread round-robin. */
  keys: z.array(z.string().min(1, 'is empty (is its ${VAR} set?)')).default([]),
  /** What this provider offers; empty: any model may be asked. */
  models: z.array(z.string().min(1)).default([]),
  /** @default 60000 */
  timeoutMs: positiveInt.default(60_000),
  /** Until the first byte of the answer, and then the longest silence mid-stream. @default 30000 */
  firstByteTimeoutMs: positiveInt.default(30_000),
  /**
   * Whether the provider takes image parts in user messages. Every type does (echo describes
   * them as `[image]`); false for a text-only server: requests with images are then refused
   * (400, naming the provider) rather than sent without them. @default true
   */
  images: z.boolean().default(true),
  /** echo only: delay between streamed words. @default 0 */
  delayMs: z.number().int().nonnegative().default(0),
  /**
   * A key the provider refuses (401/403) leaves the pool, with an alert, and is probed after
   * `afterMs` (GET {baseUrl}/models with the key): back in the pool unless that is a 401, else
   * probed again after twice the wait, up to `maxAfterMs`.
   */
  keyProbe: z
    .strictObject({
      /** @default 30000 */
      afterMs: positiveInt.default(30_000),
      /** @default 900000 (15 minutes) */
      maxAfterMs: positiveInt.default(900_000),
    })
    .prefault({}),
});
export type ProviderConfig = z.infer<typeof provider>;

const price = z.strictObject({
  input: z.number().nonnegative(),
  output: z.number().nonnegative(),
  cachedInput: z.number().nonnegative().optional(),
});
export type Price = z.infer<typeof price>;

export const Strategies = ['fallback', 'loadbalance', 'latency', 'cost'] as const;

const modelRoute = z.strictObject({
  /** @default fallback */
  strategy: z.enum(Strategies).default('fallback'),
  targets: z
    .array(
      z.strictObject({
        provider: z.string().min(1),
        model: z.string().min(1),
        /** loadbalance only. @default 1 */
        weight: z.number().positive().default(1),
      }),
    )
    .min(1),
});
export type ModelRouteConfig = z.infer<typeof modelRoute>;

/** A client's budget per period, for config clients and runtime ones alike. */
export const clientBudget = z.strictObject({
  usd: z.number().nonnegative(),
  period: z.enum(['day', 'week', 'month']).default('month'),
  alertAt: z.array(z.number().positive().max(1)).default([0.8, 1]),
  /**
   * The answer's ceiling (maxTokens sent upstream) for a request of this client that gives
   * none, lowered to what the budget still pays for. @default 4096
   */
  maxTokens: positiveInt.default(4096),
});

const client = z
  .strictObject({
    id: z.string().min(1),
    key: z.string().min(1, 'is empty (is its ${VAR} set?)').optional(),
    keySha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits')
      .optional(),
    /** Admins see every client's usage and may invalidate the cache. @default false */
    admin: z.boolean().default(false),
    /** Allowed aliases or provider/model globs (`openai/*`); absent: all. */
    models: z.array(z.string().min(1)).optional(),
    rateLimits: z.array(rateLimit).default([]),
    budget: clientBudget.optional(),
    /**
     * When the key stops working (ISO 8601 with an offset or Z): after it, 401 "API key expired
     * at …"; the alert webhook is told `alerts.keyExpiryWarningDays` before. Absent: never.
     */
    expiresAt: z.iso.datetime({ offset: true }).optional(),
    /**
     * Browser origins this client's credentials (its key, its session tokens) may be used from;
     * a request from another origin is refused (403, no CORS headers). Absent: `server.cors.origins`.
     */
    origins: z.array(origin).optional(),
    /**
     * `arbitrary`: any document; `persisted`: only the documents of `manifest` (GraphQL Codegen's
     * persisted-documents JSON, hash → document), sent by hash. @default { mode: arbitrary }
     */
    operations: z
      .discriminatedUnion('mode', [
        z.strictObject({ mode: z.literal('arbitrary') }),
        z.strictObject({ mode: z.literal('persisted'), manifest: z.string().min(1) }),
      ])
      .optional(),
    /**
     * This client's use of the semantic cache (on only when `cache.semantic.enabled` too).
     * `minSimilarity` replaces the global threshold for it. @default off
     */
    semanticCache: z
      .strictObject({ enabled: z.boolean().default(true), minSimilarity: similarity.optional() })
      .optional(),
    /** Overrides `requestLog.enabled` for this client (docs/request-log.md). */
    requestLog: clientRequestLog.optional(),
  })
  .refine((c) => (c.key === undefined) !== (c.keySha256 === undefined), {
    message: 'give exactly one of key or keySha256',
  });
export type ClientConfig = z.infer<typeof client>;

/** A PEM key, written as `${VAR}` (a literal one is warned about, as client keys are). */
const pem = (kind: string) =>
  z
    .string()
    .min(1, 'is empty (is its ${VAR} set?)')
    .refine((value) => value.includes(`-----BEGIN ${kind}`), `must be a PEM ${kind.toLowerCase()}`);

/**
 * Credentials besides client keys (see docs/access.md). Session tokens: short-lived JWTs a
 * client's backend mints (`createSessionToken`) for its browser users. External JWTs: tokens of
 * the app's own identity provider.
 */
const auth = z
  .strictObject({
    sessionTokens: z
      .strictObject({
        /** HS256 secret (at least 32 characters), as `${VAR}`; or give privateKey + publicKey. */
        secret: z
          .string()
          .min(32, 'must be at least 32 characters (is its ${VAR} set?)')
          .optional(),
        /** PEM PKCS#8 private key, with `publicKey` (SPKI) and `algorithm`. */
        privateKey: pem('PRIVATE KEY').optional(),
        publicKey: pem('PUBLIC KEY').optional(),
        /** For a key pair. @default ES256 */
        algorithm: z.enum(['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA']).default('ES256'),
        /** The longest a token may live; a longer ttlSeconds is lowered to it. @default 900 */
        maxTtlSeconds: positiveInt.default(900),
        /** `iss` and `aud` of the tokens. @default conduit */
        issuer: z.string().min(1).default('conduit'),
      })
      .refine(
        (s) => (s.secret === undefined) !== (s.privateKey === undefined),
        'give exactly one of secret or privateKey (with publicKey)',
      )
      .refine(
        (s) => (s.privateKey === undefined) === (s.publicKey === undefined),
        'privateKey and publicKey go together',
      )
      .optional(),
    jwt: z
      .strictObject({
        /** The `iss` the identity provider writes; tokens of another issuer are not taken. */
        issuer: z.string().min(1),
        /** The `aud` expected (one of). */
        audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
        /** Where its signing keys are published (fetched and cached); or give publicKey. */
        jwksUrl: z.url({ protocol: /^https?$/ }).optional(),
        /** A PEM SPKI public key, when there is no JWKS. */
        publicKey: pem('PUBLIC KEY').optional(),
        /** @default [RS256, ES256] */
        algorithms: z
          .array(z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA']))
          .min(1)
          .default(['RS256', 'ES256']),
        /** The least time between two JWKS fetches (an unknown `kid` triggers one). @default 30000 */
        jwksCooldownMs: positiveInt.default(30_000),
        /** How long fetched keys are used before they are fetched again. @default 600000 */
        jwksCacheMaxAgeMs: positiveInt.default(600_000),
        /** Leeway for exp/nbf. @default 5 */
        clockToleranceSeconds: z.number().int().nonnegative().default(5),
        claims: z
          .strictObject({
            /** The claim naming the Conduit client; or give `clientId`. */
            client: z.string().min(1).optional(),
            /** Every token's client, when no claim names it. */
            clientId: z.string().min(1).optional(),
            /** The claim naming the end user. @default sub */
            user: z.string().min(1).default('sub'),
            /** A claim listing allowed models (narrows the client's); absent: the client's. */
            models: z.string().min(1).optional(),
          })
          .refine(
            (c) => (c.client === undefined) !== (c.clientId === undefined),
            'give exactly one of client (a claim) or clientId',
          ),
      })
      .refine(
        (j) => (j.jwksUrl === undefined) !== (j.publicKey === undefined),
        'give exactly one of jwksUrl or publicKey',
      )
      .optional(),
  })
  .prefault({});

/**
 * The semantic cache (docs/semantic-cache.md): a question asked in other words is answered from
 * the cache. Off unless enabled here and, when clients are configured, by each client too.
 */
const semanticCache = z
  .strictObject({
    /** @default false */
    enabled: z.boolean().default(false),
    /** What turns a prompt into a vector. @default { type: lexical } */
    embedder: z
      .discriminatedUnion('type', [
        /** Built in: hashed words and character trigrams; no network, no model files. */
        z.strictObject({ type: z.literal('lexical') }),
        /** A configured provider's embeddings, through the gateway's own embeddings path. */
        z.strictObject({
          type: z.literal('provider'),
          /** A configured provider that makes embeddings. */
          provider: z.string().min(1),
          /** Its embeddings model, e.g. text-embedding-3-small. */
          model: z.string().min(1),
          /** Past this the look-up is a miss and the request goes upstream. @default 1000 */
          deadlineMs: positiveInt.default(1000),
          /** Longer prompts are not embedded (nor cached by meaning). @default 8000 */
          maxInputChars: positiveInt.default(8000),
        }),
      ])
      .default({ type: 'lexical' }),
    /**
     * The similarity a match needs; a request may raise it, never lower it. @default the
     * embedder's own (0.95 for both built-in kinds)
     */
    minSimilarity: similarity.optional(),
    /** Entries kept per scope; the least recently used go first. @default 1000 */
    maxEntriesPerScope: positiveInt.default(1000),
    /** Scopes kept in memory per process; the least recently used go first. @default 10000 */
    maxScopes: positiveInt.default(10_000),
  })
  .prefault({});
export type SemanticCacheConfig = z.infer<typeof semanticCache>;

/**
 * Limits on a GraphQL document, checked when it is parsed and validated: before the caller's
 * key is read, so a hostile document sent with no key is refused in one linear pass, in
 * milliseconds. Each refusal is a request error (400 with `application/graphql-response+json`) naming
 * its setting. The defaults let GraphiQL's own introspection query through (184 tokens, 15
 * deep with fragments flattened, cost about 15,600).
 */
const graphql = z
  .strictObject({
    /** The deepest selection, fragments flattened (a spread adds no level); introspection counts. @default 15 */
    maxDepth: positiveInt.default(15),
    /** Aliased fields per operation, through fragments (`__typename` is free). @default 15 */
    maxAliases: z.number().int().nonnegative().default(15),
    /** Lexical tokens per document (a string is one; variables are not in the document). @default 5000 */
    maxTokens: positiveInt.default(5000),
    /** Directives per operation, through fragments. @default 50 */
    maxDirectives: z.number().int().nonnegative().default(50),
    /**
     * graphql-armor's cost: 1 a leaf, 2 an object, each level down weighing 1.5 times more; a
     * fragment counts each time it is spread. @default 20000
     */
    maxCost: positiveInt.default(20_000),
    /**
     * Leave "Did you mean …?" out of error messages, so the schema cannot be guessed field by
     * field. @default true when NODE_ENV is production (the CLI's default), else false
     */
    blockFieldSuggestions: z.boolean().default(() => process.env.NODE_ENV === 'production'),
    /**
     * `complete` and `completionStream` fields in one operation, fragments included: each is an
     * upstream call, refused at validation beyond this, before any call is made. @default 4
     */
    maxCompletionsPerOperation: positiveInt.default(4),
  })
  .prefault({});

export const configSchema = z
  .strictObject({
    server: z
      .strictObject({
        /** @default 4000 */
        port: z.number().int().min(0).max(65535).default(4000),
        /** @default 127.0.0.1 */
        host: z.string().min(1).default('127.0.0.1'),
        /** How long SIGTERM waits for in-flight requests and streams. @default 10000 */
        shutdownTimeoutMs: positiveInt.default(10_000),
        graphql,
        /**
         * The largest request body read, on every route (REST and GraphQL); a larger one gets
         * 413 before it is read. Also the largest WebSocket message (a larger one closes the
         * socket with 1009). @default 4194304 (4 MiB)
         */
        maxBodyBytes: positiveInt.default(4 * 1024 * 1024),
        cors: z
          .strictObject({
            /**
             * Browser origins allowed to call Conduit cross-origin (`https://app.example.com`,
             * exact match), with credentials; any other origin gets no CORS headers.
             * @default [] (no cross-origin access)
             */
            origins: z.array(origin).default([]),
          })
          .prefault({}),
      })
      .prefault({}),
    redis: z.strictObject({ url: z.url({ protocol: /^rediss?$/ }) }).optional(),
    database: z
      .strictObject({
        /** sqlite:./path, sqlite::memory: or postgres://… @default sqlite:./data/conduit.db */
        url: z
          .string()
          .regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'must start with sqlite: or postgres://')
          .default('sqlite:./data/conduit.db'),
        /** Usage records kept while the database is away; past it the oldest are dropped (and alerted). @default 100000 */
        maxQueue: positiveInt.default(100_000),
      })
      .prefault({}),
    /** Live events (`requestEvents`, `providerHealth` subscriptions; docs/dashboard.md). */
    events: z
      .strictObject({
        /**
         * Events waiting per subscriber that reads slowly; past it the oldest are dropped
         * (`conduit_request_events_dropped_total`). @default 256
         */
        queue: positiveInt.default(256),
        /** The Redis pub/sub channel replicas share (with `redis.url`). @default conduit:events */
        channel: z.string().min(1).default('conduit:events'),
        /** How often `providerHealth` looks for a change while someone listens. @default 1000 */
        healthIntervalMs: positiveInt.default(1000),
      })
      .prefault({}),
    providers: z.record(z.string().regex(/^[\w.-]+$/, 'letters, digits, _ . - only'), provider),
    pricing: z.record(z.string(), price).default({}),
    models: z.record(z.string().min(1), modelRoute).default({}),
    retry: z
      .strictObject({
        /** Tries per target, the first included. @default 3 */
        attempts: positiveInt.default(3),
        /** @default 100 */
        initialDelayMs: z.number().int().nonnegative().default(100),
        /** @default 5000 */
        maxDelayMs: z.number().int().nonnegative().default(5000),
        /** One request's whole budget, every try and target included. @default 120000 */
        deadlineMs: positiveInt.default(120_000),
      })
      .prefault({}),
    circuitBreaker: z
      .strictObject({
        /** Consecutive failures of a target that open its circuit. @default 5 */
        failures: positiveInt.default(5),
        /** How long an open circuit waits before letting a trial call through. @default 10000 */
        halfOpenAfterMs: positiveInt.default(10_000),
      })
      .prefault({}),
    cache: z
      .strictObject({
        /** @default true */
        enabled: z.boolean().default(true),
        /** @default 3600 */
        ttlSeconds: positiveInt.default(3600),
        /** In-memory store only. @default 10000 */
        maxEntries: positiveInt.default(10_000),
        /**
         * In-memory store only: bytes of answers kept; the least recently used go first.
         * @default 67108864 (64 MiB)
         */
        maxBytes: positiveInt.default(64 * 1024 * 1024),
        /** An answer larger than this is never cached (memory or Redis). @default 1048576 (1 MiB) */
        maxEntryBytes: positiveInt.default(1024 * 1024),
        /** client: no tenant reads another's answers; global: shared. @default client */
        scope: z.enum(['client', 'global']).default('client'),
        semantic: semanticCache,
      })
      .prefault({}),
    clients: z.array(client).default([]),
    auth,
    rateLimits: z
      .strictObject({
        global: z.array(rateLimit).default([]),
        perUser: z.array(rateLimit).default([]),
        /** Tokens reserved for the answer when a request gives no maxTokens. @default 1024 */
        defaultMaxTokens: positiveInt.default(1024),
      })
      .prefault({}),
    metrics: z
      .strictObject({
        /**
         * A bearer token `/metrics` asks of scrapers (write it as `${VAR}`); absent: `/metrics`
         * is open.
         */
        token: z.string().min(1, 'is empty (is its ${VAR} set?)').optional(),
      })
      .prefault({}),
    alerts: z
      .strictObject({
        webhookUrl: z.url().optional(),
        /**
         * How long before a client key's `expiresAt` the webhook is told (`key_expiring`, once
         * per key and expiry). @default 3
         */
        keyExpiryWarningDays: z.number().positive().default(3),
      })
      .prefault({}),
    /** Clients made at run time (GraphQL `createClient`…), kept in the usage database. */
    runtimeClients: z
      .strictObject({
        /**
         * How often a replica reads the clients' change counter from the database, to see what
         * another replica changed. With `redis.url` changes are announced over Redis pub/sub
         * and this poll runs 20 times less often, as a safety net. @default 500
         */
        pollIntervalMs: positiveInt.default(500),
      })
      .prefault({}),
    responses: z
      .strictObject({
        /**
         * Days a stored response (`POST /v1/responses` with `store`, the default) is kept for
         * `GET /v1/responses/{id}` and `previous_response_id`; older ones are deleted in the
         * background. @default 30
         */
        retentionDays: positiveInt.default(30),
      })
      .prefault({}),
    /** OpenTelemetry traces (docs/telemetry.md); off unless an OTLP endpoint is given. */
    telemetry: z
      .strictObject({
        /**
         * The OTLP/HTTP collector's base URL (`/v1/traces` is added), e.g. `http://localhost:4318`.
         * Absent: the standard `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`
         * variables; none of them: tracing is off.
         */
        otlpEndpoint: z
          .url({
            protocol: /^https?$/,
            error: 'must be an http(s) URL, e.g. http://localhost:4318',
          })
          .optional(),
        /**
         * The export's encoding. @default OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else
         * OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf
         */
        protocol: z.enum(['http/protobuf', 'http/json']).optional(),
        /** Headers sent with each export (write secrets as `${VAR}`). @default none */
        headers: z.record(z.string(), z.string()).optional(),
        /** `service.name` of the spans. @default OTEL_SERVICE_NAME, else conduit */
        serviceName: z.string().min(1).optional(),
        /** The share of new traces kept; an incoming `traceparent` decides for its own. @default 1 */
        sampleRatio: z.number().min(0).max(1).default(1),
        /** Put prompts and answers on the spans (`gen_ai.input.messages`…). @default false */
        captureContent: z.boolean().default(false),
      })
      .prefault({}),
    /** Every request's bodies and attempts, kept in the database (docs/request-log.md). */
    requestLog: requestLogConfig,
    logging: z
      .strictObject({
        /** @default info */
        level: z
          .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
          .default('info'),
        /** Also store prompts and responses. @default false */
        bodies: z.boolean().default(false),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    for (const [name, p] of Object.entries(config.providers)) {
      if (p.type === 'openai-compatible' && !p.baseUrl) {
        ctx.addIssue({
          code: 'custom',
          path: ['providers', name, 'baseUrl'],
          message: 'is required for openai-compatible',
        });
      }
    }
    for (const [alias, route] of Object.entries(config.models)) {
      route.targets.forEach((target, i) => {
        if (!(target.provider in config.providers)) {
          ctx.addIssue({
            code: 'custom',
            path: ['models', alias, 'targets', i, 'provider'],
            message: `names no configured provider ("${target.provider}")`,
          });
        }
      });
    }
    const embedder = config.cache.semantic.embedder;
    if (embedder.type === 'provider' && !(embedder.provider in config.providers)) {
      ctx.addIssue({
        code: 'custom',
        path: ['cache', 'semantic', 'embedder', 'provider'],
        message: `names no configured provider ("${embedder.provider}")`,
      });
    }
    const ids = new Set<string>();
    config.clients.forEach((c, i) => {
      if (ids.has(c.id))
        ctx.addIssue({
          code: 'custom',
          path: ['clients', i, 'id'],
          message: `"${c.id}" is used twice`,
        });
      ids.add(c.id);
    });
  });

export type Config = z.infer<typeof configSchema>;
