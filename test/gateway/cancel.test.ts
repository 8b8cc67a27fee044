import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { Cancel } from '../../src/gateway/cancel.js';
import { onDispose } from '../helpers/dispose.js';

describe('Cancel', () => {
  it('aborts once, with AbortSignal’s default reason, telling each listener once', () => {
    const cancel = new Cancel();
    const heard: string[] = [];
    cancel.addEventListener('abort', () => heard.push('once'), { once: true });
    const removed = () => heard.push('removed');
    cancel.addEventListener('abort', removed);
    cancel.removeEventListener('abort', removed);
    expect(() => cancel.throwIfAborted()).not.toThrow();
    cancel.abort();
    cancel.abort(new Error('again'));
    expect(heard).toEqual(['once']);
    expect(cancel.aborted).toBe(true);
    expect((cancel.reason as DOMException).name).toBe('AbortError');
    expect(() => cancel.throwIfAborted()).toThrow(cancel.reason as DOMException);
  });

  it('gives a real AbortSignal that follows it, made after or before the abort', () => {
    const early = new Cancel();
    const signal = early.native;
    expect(signal).toBeInstanceOf(AbortSignal);
    expect(signal.aborted).toBe(false);
    const reason = new Error('deadline');
    early.abort(reason);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);

    const late = new Cancel();
    late.abort(reason);
    expect(late.native.aborted).toBe(true);
    expect(late.native.reason).toBe(reason);
  });

  it('cancels an undici request in flight, as the transport hands it over', async () => {
    const server = createServer(() => {}); // never answers
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    onDispose(() => {
      server.closeAllConnections();
      server.close();
    });
    const { port } = server.address() as AddressInfo;
    const cancel = new Cancel();
    const pending = request(`http://127.0.0.1:${port}/`, { signal: cancel });
    await once(server, 'request');
    cancel.abort(new Error('client left'));
    await expect(pending).rejects.toThrow('client left');
  });
});
