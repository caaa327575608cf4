// The network safety rule of the benchmark: every packet is sent inside a private network
// namespace made for this run, never on the host's interfaces.
//
// `checkSandbox(inputs)` is the logic of test/harness/sandbox.ts (`checkSandbox`), in plain
// JavaScript so that `node bench/run.mjs` needs no TypeScript loader; test/bench-smoke.test.ts
// runs both on the same made-up inputs so that the two cannot drift apart. It refuses unless:
// MCAST_NETNS_SANDBOX (set by test/harness/run-in-netns.mjs) is well formed and names another
// namespace than this one; this is not PID 1's namespace; every interface is `lo` or `mc*`
// (made by the harness or by this benchmark); there is no IPv4 or IPv6 default route.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SANDBOX_ENV = 'MCAST_NETNS_SANDBOX';
export const IFACE_PREFIX = 'mc';
const RTF_REJECT = 0x0200;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const RUN_IN_NETNS = join(ROOT, 'test', 'harness', 'run-in-netns.mjs');

export function ipv4DefaultRoutes(text) {
  return text
    .split('\n')
    .slice(1)
    .filter((line) => {
      const f = line.trim().split(/\s+/);
      return f.length >= 8 && f[1] === '00000000' && f[7] === '00000000';
    });
}

export function ipv6DefaultRoutes(text) {
  return text.split('\n').filter((line) => {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) return false;
    const [dest, plen, , , , , , , flags] = f;
    if (dest !== '0'.repeat(32) || plen !== '00') return false;
    return (parseInt(flags ?? '0', 16) & RTF_REJECT) === 0;
  });
}

function inode(link) {
  const m = /^net:\[(\d+)\]$/.exec(link);
  return m?.[1] ?? null;
}

/** Reasons why `inputs` do not describe the sandbox; empty when they do. */
export function checkSandbox(inputs) {
  const problems = [];
  const here = inode(inputs.netns);
  if (here === null) problems.push(`cannot read this process's network namespace (${inputs.netns})`);
  const m = inputs.token === undefined ? null : /^(\d+):(\d+):([0-9a-f]+)$/.exec(inputs.token);
  if (inputs.token === undefined || inputs.token === '') {
    problems.push(`${SANDBOX_ENV} is not set: run through test/harness/run-in-netns.mjs (npm run bench)`);
  } else if (!m) {
    problems.push(`${SANDBOX_ENV} is malformed: ${JSON.stringify(inputs.token)}`);
  } else if (here !== null && m[1] === here) {
    problems.push(`this process is in the network namespace run-in-netns was started from (net:[${here}])`);
  }
  if (inputs.pid1Netns !== null && inputs.pid1Netns === inputs.netns) {
    problems.push(`this process shares PID 1's network namespace (${inputs.netns})`);
  }
  const foreign = [...new Set(inputs.interfaces)].filter((name) => name !== 'lo' && !name.startsWith(IFACE_PREFIX));
  if (foreign.length > 0) problems.push(`interfaces not made by the harness: ${foreign.join(', ')}`);
  const v4 = ipv4DefaultRoutes(inputs.ipv4Routes);
  if (v4.length > 0) problems.push(`an IPv4 default route exists: ${v4[0]?.trim()}`);
  const v6 = ipv6DefaultRoutes(inputs.ipv6Routes);
  if (v6.length > 0) problems.push(`an IPv6 default route exists: ${v6[0]?.trim()}`);
  return problems;
}

function readOr(path, fallback) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

export function procNetDevInterfaces(text) {
  return text
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]?.trim() ?? '')
    .filter((name) => name !== '');
}

export function readSandboxInputs() {
  let pid1Netns = null;
  try {
    pid1Netns = readlinkSync('/proc/1/ns/net');
  } catch {
    pid1Netns = null;
  }
  let sys = [];
  try {
    sys = readdirSync('/sys/class/net');
  } catch {
    sys = [];
  }
  return {
    token: process.env[SANDBOX_ENV],
    netns: readlinkSync('/proc/self/ns/net'),
    pid1Netns,
    interfaces: [...sys, ...procNetDevInterfaces(readOr('/proc/net/dev', ''))],
    // Unreadable route tables make the check fail closed.
    ipv4Routes: readOr('/proc/net/route', 'Iface\n?\t00000000\t?\t?\t?\t?\t?\t00000000\n'),
    ipv6Routes: readOr('/proc/net/ipv6_route', `${'0'.repeat(32)} 00 x x x x x x 00000000 unreadable\n`),
  };
}

/** Throws unless this process runs in the sandbox (call it again before each case: cheap). */
export function assertSandboxed(inputs = readSandboxInputs()) {
  const problems = checkSandbox(inputs);
  if (problems.length > 0) {
    const error = new Error(
      'refusing to run: not inside a private network namespace made by test/harness/run-in-netns.mjs, ' +
        'and the benchmark sends nothing anywhere else.\n- ' +
        problems.join('\n- '),
    );
    error.code = 'ERR_BENCH_NOT_SANDBOXED';
    throw error;
  }
}

/**
 * Outside the sandbox (no MCAST_NETNS_SANDBOX): runs `node SCRIPT ARGS` again through
 * run-in-netns.mjs, which makes a fresh private namespace (or refuses), and resolves with its
 * exit code. Inside (the variable is set): resolves null, and the caller must still pass
 * assertSandboxed() (a stale or forged variable is refused there, not re-executed).
 */
export function reexecInSandbox(script, args) {
  if (process.env[SANDBOX_ENV] !== undefined) return Promise.resolve(null);
  if (!existsSync(RUN_IN_NETNS)) {
    return Promise.reject(new Error(`refusing to run: ${RUN_IN_NETNS} is missing, and the benchmark runs only in a private network namespace`));
  }
  return new Promise((done) => {
    const child = spawn(process.execPath, [RUN_IN_NETNS, process.execPath, script, ...args], { stdio: 'inherit' });
    const forward = (signal) => () => child.kill(signal);
    const handlers = ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => [s, forward(s)]);
    for (const [s, h] of handlers) process.on(s, h);
    child.on('exit', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      done(code ?? (signal ? 128 + 15 : 1));
    });
  });
}
