/**
 * The one implementation of the sandbox check (plain JavaScript, so that bench/ can use it
 * without a TypeScript loader; test/harness/sandbox.ts re-exports it with types).
 *
 * Proof that this process runs inside the private network namespace made by run-in-netns.mjs.
 *
 * `assertSandboxed()` throws unless all of these hold:
 * - MCAST_NETNS_SANDBOX is set and well formed (`OUTER_INODE:SANDBOX_INODE:NONCE`);
 * - this process's network namespace (/proc/self/ns/net) is not the one run-in-netns was
 *   started from, and not PID 1's when /proc/1/ns/net is readable;
 * - every interface (/sys/class/net and /proc/net/dev) is `lo` or starts with `mc`;
 * - there is no IPv4 default route (/proc/net/route) and no IPv6 default route
 *   (/proc/net/ipv6_route; the kernel's built-in reject entry does not count).
 *
 * The pure `checkSandbox(inputs)` does the reasoning, so the refusal can be tested with made-up
 * inputs without ever leaving the sandbox.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export const SANDBOX_ENV = 'MCAST_NETNS_SANDBOX';
/** Every interface a test or the benchmark creates must start with this (at most 15 characters). */
export const HARNESS_IFACE_PREFIX = 'mc';
const RTF_REJECT = 0x0200;

/** Lines of /proc/net/route that are default routes (destination and mask 0). */
export function ipv4DefaultRoutes(text) {
  return text
    .split('\n')
    .slice(1)
    .filter((line) => {
      const f = line.trim().split(/\s+/);
      return f.length >= 8 && f[1] === '00000000' && f[7] === '00000000';
    });
}

/** Lines of /proc/net/ipv6_route that are usable default routes (::/0 without RTF_REJECT). */
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
    problems.push(`${SANDBOX_ENV} is not set: run through test/harness/run-in-netns.mjs (npm test, npm run bench)`);
  } else if (!m) {
    problems.push(`${SANDBOX_ENV} is malformed: ${JSON.stringify(inputs.token)}`);
  } else if (here !== null && m[1] === here) {
    problems.push(`this process is in the network namespace run-in-netns was started from (net:[${here}])`);
  }
  if (inputs.pid1Netns !== null && inputs.pid1Netns === inputs.netns) {
    problems.push(`this process shares PID 1's network namespace (${inputs.netns})`);
  }
  const foreign = [...new Set(inputs.interfaces)].filter((name) => name !== 'lo' && !name.startsWith(HARNESS_IFACE_PREFIX));
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

/** Interface names of this network namespace from /proc/net/dev (always this namespace's). */
export function procNetDevInterfaces(text) {
  return text
    .split('\n')
    .slice(2)
    .map((line) => line.split(':')[0]?.trim() ?? '')
    .filter((name) => name !== '');
}

/** Reads the real inputs of this process. */
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

/** Throws a clear error unless this process is inside the run-in-netns sandbox. */
export function assertSandboxed(inputs = readSandboxInputs()) {
  const problems = checkSandbox(inputs);
  if (problems.length > 0) {
    const error = new Error(
      'Not inside the private network namespace of test/harness/run-in-netns.mjs; refusing to run ' +
        'anything that could send packets on a real network (use npm test / npm run bench).\n- ' +
        problems.join('\n- '),
    );
    error.code = 'ERR_NOT_SANDBOXED';
    throw error;
  }
}
