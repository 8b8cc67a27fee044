/**
 * The benchmark's servers, one process each: the mock upstream and the bare proxy (forked with
 * tsx), and Conduit from the built `dist/` (`node dist/main.js --config FILE`), so no server
 * shares an event loop with another or with the load generator.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, openSync, readFileSync, writeFileSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Child {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

const here = fileURLToPath(new URL('.', import.meta.url));
export const root = join(here, '..');

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Node run through `sh` with its soft open-files limit raised to the hard one (10,000 held
 * WebSocket subscriptions take 10,000 sockets in the bench, and twice that in Conduit, one to
 * the client and one to the upstream each; a default soft limit is often 1,024). `exec` keeps
 * the pid, so the child's pid is node's.
 */
function nodeCommand(args: string[]): [string, string[]] {
  return [
    'sh',
    ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, ...args],
  ];
}

/** Forks a bench/*.ts server and waits for the port it reports; `nodeArgs` as startConduit's. */
export async function forkServer(
  file: string,
  args: string[] = [],
  nodeArgs: string[] = [],
): Promise<Child> {
  const [command, argv] = nodeCommand(['--import', 'tsx', ...nodeArgs, join(here, file), ...args]);
  const child = spawn(command, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [message] = (await Promise.race([
    once(child, 'message'),
    once(child, 'exit').then(() => {
      throw new Error(`${file} exited before it listened`);
    }),
  ])) as [{ port: number }];
  return {
    url: `http://127.0.0.1:${message.port}`,
    pid: child.pid!,
    stop: () => stopChild(child),
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export interface ConduitChild extends Child {
  /** The child's log file (pino lines). */
  logFile: string;
}

/**
 * Starts `node dist/main.js` on a config (JSON is YAML) and waits for /healthz. Its logs go to a
 * file, as a deployment's would go somewhere: writing them is part of what is measured.
 * `nodeArgs` adds flags such as `--cpu-prof`.
 */
export async function startConduit(
  config: Record<string, unknown>,
  nodeArgs: string[] = [],
): Promise<ConduitChild> {
  const dir = mkdtempSync(join(tmpdir(), 'conduit-bench-'));
  const port = await freePort();
  const configFile = join(dir, 'conduit.yaml');
  writeFileSync(
    configFile,
    JSON.stringify({
      ...config,
      server: { port, host: '127.0.0.1' },
      database: { url: `sqlite:${join(dir, 'usage.db')}` },
    }),
  );
  const logFile = join(dir, 'conduit.log');
  const log = openSync(logFile, 'w');
  const [command, argv] = nodeCommand([
    ...(process.env.BENCH_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
    ...nodeArgs,
    join(process.env.BENCH_DIST ?? join(root, 'dist'), 'main.js'),
    '--config',
    configFile,
  ]);
  const child = spawn(command, argv, { cwd: dir, stdio: ['ignore', log, log] });
  closeSync(log);
  const url = `http://127.0.0.1:${port}`;
  // No event tells another process is listening: poll /healthz, bounded (20 s).
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) {
      throw new Error(`conduit exited (${child.exitCode}): ${readFileSync(logFile, 'utf8')}`);
    }
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i === 200)
      throw new Error(`conduit did not answer /healthz: ${readFileSync(logFile, 'utf8')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, pid: child.pid!, logFile, stop: () => stopChild(child) };
}

/** A process's resident set size in MB (VmRSS from /proc). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** A process's soft limit on open files (`Max open files` in /proc/PID/limits). */
export function fdLimit(pid: number | 'self'): number {
  const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
  const soft = /Max open files\s+(\S+)/.exec(limits)?.[1];
  return soft === 'unlimited' ? Infinity : Number(soft ?? NaN);
}

/** Keeps a process and all its threads on `cpu` (taskset): the scheduler's placement stops moving a figure. */
export function pin(pid: number, cpu: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpu, String(pid)]);
}

/** A process's CPU time so far (user + system) in ms, from /proc/PID/stat. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}
