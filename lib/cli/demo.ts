/**
 * `mcast demo` (`npm run demo`): one sender and three receivers on loopback saying
 * "Hello, multicast world!", with TTL 0 so that nothing leaves the host.
 *
 * It first re-executes itself inside a private network namespace (`unshare --net --fork`, with
 * `--map-root-user` when not root), where `lo` is the only interface. The inner run proves it is
 * in a new namespace, brings `lo` up and reports "ok" on fd 3; only if that cannot happen does the
 * demo run on the host's own loopback, still with TTL 0 and the outgoing interface lo.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, readlinkSync, writeSync } from 'node:fs';
import { constants } from 'node:os';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';

import { createSocket, listInterfaces, type Socket } from '../index';
import { type CommandSpec, EXIT, type ParsedArgs } from './args';
import { type Command, type Io, println } from './io';

export const GREETING = 'Hello, multicast world!';
const GROUP = '239.255.70.77';
const RECEIVERS = 3;
const RESEND_MS = 250;
const DEADLINE_MS = 3000;
/** Set for the re-executed demo: the network namespace it was started from. */
const INSIDE_ENV = 'MCAST_DEMO_PARENT_NETNS';
/** Set for the re-executed demo: the unshare command line that made its namespace. */
const HOW_ENV = 'MCAST_DEMO_UNSHARE';
const CLI = resolve(__dirname, '..', 'cli.js');

const spec: CommandSpec = {
  name: 'demo',
  summary: `One sender and ${RECEIVERS} receivers on loopback: each receiver prints "${GREETING}" and who sent it.`,
  positionals: [],
  options: [],
  notes: [
    'The demo runs inside a private network namespace of its own (unshare --net --fork; with\n' +
      '--map-root-user when not root) whose only interface is lo. Only if no namespace can be made does\n' +
      "it use this host's loopback. Either way it sends with TTL 0 on lo, so nothing leaves the host.\n" +
      `Exit code 0 when all ${RECEIVERS} receivers got the greeting, 1 otherwise.`,
  ],
};

function netns(): string {
  return readlinkSync('/proc/self/ns/net');
}

interface Attempt {
  ran: boolean;
  /** The inner run's exit code, when it ran. */
  code: number;
  /** Why no namespace could be made, when it did not run. */
  reason: string;
}

/** Runs this demo again inside `unshare --net --fork`; `ran` is false if that was impossible. */
function reexecInNamespace(io: Io): Promise<Attempt> {
  const root = process.getuid?.() === 0;
  const flags = [...(root ? [] : ['--map-root-user']), '--net', '--fork'];
  const args = [...flags, '--kill-child', '--', process.execPath, CLI, 'demo'];
  return new Promise((done) => {
    const child = spawn('unshare', args, {
      stdio: ['ignore', 'inherit', 'pipe', 'pipe'],
      env: { ...process.env, [INSIDE_ENV]: netns(), [HOW_ENV]: ['unshare', ...flags].join(' ') },
    });
    let started = false;
    let held = '';
    const control = child.stdio[3] as Readable | null;
    control?.on('data', (chunk: Buffer) => {
      if (!started && chunk.toString().includes('ok')) {
        started = true;
        io.stderr.write(held);
        held = '';
      }
    });
    control?.on('error', () => {});
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      if (started) io.stderr.write(text);
      else held += text;
    });
    const onTerm = (): void => void child.kill('SIGTERM');
    process.on('SIGTERM', onTerm);
    child.on('error', (error: NodeJS.ErrnoException) => {
      process.off('SIGTERM', onTerm);
      done({ ran: false, code: EXIT.FAILURE, reason: error.code === 'ENOENT' ? 'unshare(1) is not installed' : error.message });
    });
    child.on('close', (code, signal) => {
      process.off('SIGTERM', onTerm);
      const exit = code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0));
      const last = held.trim().split('\n').pop() ?? '';
      done({ ran: started, code: exit, reason: last !== '' ? last : `unshare exited with code ${exit}` });
    });
  });
}

/** In the re-executed demo: checks the namespace is new, brings lo up, tells the parent. */
function enterNamespace(parent: string): void {
  if (netns() === parent) throw new Error('the re-executed demo is still in the network namespace it came from');
  execFileSync('ip', ['link', 'set', 'lo', 'up'], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (listInterfaces().find((i) => i.name === 'lo')?.up !== true) throw new Error('lo did not come up');
  try {
    writeSync(3, 'ok\n');
    closeSync(3);
  } catch {
    // started by hand without the parent's pipe: nothing to tell
  }
}

/** The demo itself, on `lo` of whatever namespace this process is in. */
async function demoOnLoopback(io: Io): Promise<number> {
  if (listInterfaces().find((i) => i.name === 'lo')?.up !== true) {
    println(io.stderr, 'mcast demo: FAILED: lo is down in this network namespace (ip link set lo up)');
    return EXIT.FAILURE;
  }
  try {
    return await greet(io);
  } catch (error) {
    println(io.stderr, `mcast demo: FAILED: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.FAILURE;
  }
}

async function greet(io: Io): Promise<number> {
  const receivers: Socket[] = [];
  let sender: Socket | undefined;
  try {
    // The first receiver takes a free port; the others share it (SO_REUSEADDR).
    for (let i = 0; i < RECEIVERS; i++) {
      const port = i === 0 ? 0 : (receivers[0]?.address().port ?? 0);
      receivers.push(createSocket({ port }).join(GROUP, { interface: 'lo' }));
    }
    const port = receivers[0]?.address().port ?? 0;
    println(io.stdout, `${RECEIVERS} receivers joined ${GROUP} on lo, port ${port}`);
    sender = createSocket({ ttl: 0, interface: 'lo' });
    println(io.stdout, `sender: port ${sender.address().port} -> ${GROUP}:${port} on lo, TTL 0: "${GREETING}"`);
    return await exchange(sender, receivers, port, io);
  } finally {
    sender?.close();
    for (const r of receivers) r.close();
  }
}

async function exchange(sender: Socket, receivers: readonly Socket[], port: number, io: Io): Promise<number> {
  const got = receivers.map(() => false);
  receivers.forEach((r, i) => {
    r.on('message', (data, info) => {
      if (got[i] === true || data.toString() !== GREETING) return;
      got[i] = true;
      println(io.stdout, `receiver ${i + 1}: "${GREETING}" from ${info.address}:${info.port}`);
    });
  });
  const deadline = Date.now() + DEADLINE_MS;
  let sends = 0;
  while (got.includes(false) && Date.now() < deadline) {
    if (sender.send(GREETING, GROUP, port)) sends++;
    const until = Date.now() + RESEND_MS;
    while (got.includes(false) && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  }
  const missing = got.flatMap((ok, i) => (ok ? [] : [i + 1]));
  if (missing.length === 0) {
    const times = sends === 1 ? 'once' : `${sends} times`;
    println(io.stdout, `all ${RECEIVERS} receivers got the greeting (sent ${times}): multicast works on this host's loopback`);
    return EXIT.OK;
  }
  println(
    io.stderr,
    `mcast demo: FAILED: receiver${missing.length === 1 ? '' : 's'} ${missing.join(', ')} did not get the greeting within ${DEADLINE_MS / 1000} s (sent ${sends} times)`,
  );
  return EXIT.FAILURE;
}

async function run(_args: ParsedArgs, io: Io): Promise<number> {
  const parent = process.env[INSIDE_ENV];
  if (parent !== undefined) {
    enterNamespace(parent);
    const how = process.env[HOW_ENV] ?? 'unshare';
    println(io.stdout, `mcast demo: re-executed inside a private network namespace (${how}): lo is its only interface, nothing here can reach a network`);
    println(io.stdout, 'mcast demo: sending on lo with TTL 0, so nothing leaves the host');
    return demoOnLoopback(io);
  }
  const attempt = await reexecInNamespace(io);
  if (attempt.ran) return attempt.code;
  println(io.stdout, `mcast demo: could not make a private network namespace (${attempt.reason})`);
  println(io.stdout, "mcast demo: running on this host's loopback instead: outgoing interface lo (IP_MULTICAST_IF) and TTL 0, so nothing leaves the host");
  return demoOnLoopback(io);
}

export const demoCommand: Command = { spec, run };
