/**
 * The `requestLog` settings (docs/request-log.md): whether each request's prompt, parameters,
 * answer and attempts are stored, for how long, how large a body may be, and which patterns are
 * redacted before storage. A config client may turn it on or off for itself.
 */
import { z } from 'zod';

const positiveInt = z.number().int().positive();

/** A regular expression as text: refused at load when it does not compile. */
const pattern = z
  .string()
  .min(1, 'is empty')
  .superRefine((source, ctx) => {
    try {
      new RegExp(source, 'gu');
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: `is not a regular expression: ${(error as Error).message}`,
      });
    }
  });

export const requestLogConfig = z
  .strictObject({
    /** Store every request's bodies and attempts in the database. @default false */
    enabled: z.boolean().default(false),
    /** Days an entry is kept; older ones are deleted in the background. @default 7 */
    retentionDays: positiveInt.default(7),
    /**
     * Bytes (UTF-8) of one body (the prompt, the parameters, the answer, a tool call's
     * arguments) stored; past it the body is cut and marked truncated. @default 65536
     */
    maxBodyBytes: positiveInt.default(64 * 1024),
    /**
     * Regular expressions (JavaScript syntax, Unicode mode) whose matches are replaced by
     * `[redacted]` before storage, for PII such as e-mail addresses and card numbers. The
     * config's secrets and credential-shaped strings are always redacted. @default []
     */
    redact: z.array(pattern).default([]),
    /**
     * Entries waiting for the database with their bodies; past it new entries keep their
     * metadata only (bodies dropped, counted and alerted). @default 10000
     */
    maxQueue: positiveInt.default(10_000),
    /** How often old entries are looked for. @default 60000 */
    sweepIntervalMs: positiveInt.default(60_000),
  })
  .prefault({});

export type RequestLogConfig = z.infer<typeof requestLogConfig>;

/** A config client's own setting, over the global `requestLog.enabled`. */
export const clientRequestLog = z.strictObject({ enabled: z.boolean() });
