/**
 * What every REST edge (OpenAI's routes, Anthropic's Messages) does at its two ends: the body
 * read once into one Buffer and parsed once, and a whole JSON answer written with one writeHead
 * (with the headers held for it: trace id, CORS) and one end.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badInput } from '../gateway/errors.js';
import { readBody, tooLarge } from '../http/body.js';
import { withHead } from '../http/head.js';
import type { Reply } from './convert.js';

/** The JSON body, or `tooLarge` past `maxBodyBytes`. Throws BAD_USER_INPUT if it is not JSON. */
export async function readJson(req: IncomingMessage, maxBodyBytes: number): Promise<unknown> {
  const body = await readBody(req, maxBodyBytes);
  if (body === tooLarge) return tooLarge;
  if (body.length === 0) throw badInput('body', 'the request body is empty: send a JSON object');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw badInput('body', `the request body is not valid JSON (${(error as Error).message})`);
  }
}

/** Writes `reply`: its length computed, its head and body in one go. */
export function send(res: ServerResponse, reply: Reply): void {
  const text = JSON.stringify(reply.body);
  reply.headers['content-length'] = String(Buffer.byteLength(text));
  res.writeHead(reply.status, withHead(res, reply.headers));
  res.end(text);
}
