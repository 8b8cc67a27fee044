/**
 * The one bounded reader of request bodies, for every route that reads one (REST `/v1/*`,
 * `/graphql` in the transport and on Yoga's): the body in one Buffer, never more than
 * `server.maxBodyBytes` of it. A `content-length` over the limit is refused before a byte is
 * read; a body that passes it while arriving (chunked, or lying about its length) stops being
 * read there. The caller answers 413 with `connection: close`, so the rest is never buffered.
 */
import type { IncomingMessage } from 'node:http';

/** What `readBody` gives for a body over the limit: the rest of it is left unread. */
export const tooLarge = Symbol('body too large');

/**
 * The client went away before its body was complete: nobody is left to answer, and it is no
 * fault of ours (the edges log it as one info line).
 */
export class BodyAborted extends Error {
  override readonly name = 'BodyAborted';
  constructor() {
    super('the client aborted the request body');
  }
}

/**
 * The body, read once into one Buffer (one `Buffer.concat` when it came in several chunks), or
 * `tooLarge`. Rejects with `BodyAborted` when the client leaves mid-body.
 */
export function readBody(
  req: IncomingMessage,
  maxBytes: number,
): Promise<Buffer | typeof tooLarge> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.resolve(tooLarge);
  // Gone before we began: its 'error' and 'close' have been and will not come again.
  if (req.destroyed) return Promise.reject(new BodyAborted());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onAbort);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        stop();
        req.pause();
        resolve(tooLarge);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    // Node destroys the request with an `aborted` error when the socket closes mid-body; a
    // 'close' without 'end' is the same thing, whichever comes first.
    const onAbort = () => {
      stop();
      reject(new BodyAborted());
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('close', onAbort);
  });
}
