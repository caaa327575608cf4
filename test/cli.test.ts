/**
 * The `mcast` command end to end (dist/cli.js, as `npx mcast` runs it): bad input and --help,
 * `ifaces`, `send` in one namespace to `recv` in another across a veth link (payloads, output
 * formats, exit codes, Ctrl-C), the choice of interface when none is given, `demo` in all three
 * of its ways (own namespace, host loopback fallback, failure), and the `bench` stub.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { procRouteLookup } from '../lib/cli/route.js';
import { type Host, type Link, Topology } from './harness/netns.js';
import { uniquePort } from './helpers.js';
import { CLI, mcast, type Running, spawnMcast } from './wire-helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const S = '10.83.1.1';
const R = '10.83.1.2';
const S6 = 'fd83:1::1';

let net: Topology;
let hs: Host; // the sender's host
let hr: Host; // the receiver's host
let link: Link; // link.self in hs, link.peer in hr

beforeAll(async () => {
  net = await Topology.create('cl', { autoDestroy: false });
  [hs, hr] = await Promise.all([net.host('s'), net.host('r')]);
  link = await net.link(hs, net.ifname('s0'), hr, net.ifname('r0'), {
    selfAddr: `${S}/24`,
    peerAddr: `${R}/24`,
    selfAddr6: `${S6}/64`,
    peerAddr6: 'fd83:1::2/64',
  });
});

afterAll(async () => {
  await net?.destroy();
});

/** Starts `mcast recv` in the receiver's host and waits until it has joined. */
async function startRecv(args: readonly string[]): Promise<Running> {
  const rx = spawnMcast(hr, ['recv', ...args]);
  await rx.waitStderr('listening on');
  return rx;
}

function senderPort(stderr: string): number {
  return Number(/from port (\d+)/.exec(stderr)?.[1]);
}

describe('bad input: one line on stderr and exit code 2', () => {
  const G = '239.83.0.1';
  const cases: Array<[string, string[], RegExp]> = [
    ['a unicast group', ['recv', '10.1.2.3', '5000'], /^mcast recv: 10\.1\.2\.3 is not a multicast group \(expected 224\.0\.0\.1 to 239\.255\.255\.255\)/],
    ['a group that is no address', ['send', 'banana', '5000', 'x'], /^mcast send: GROUP must be a multicast address \(224\.0\.0\.0\/4 or ff00::\/8\), got 'banana'/],
    ['a port out of range', ['recv', G, '70000'], /^mcast recv: PORT must be an integer from 1 to 65535, got '70000'/],
    ['a port that is no number', ['send', G, 'http', 'x'], /^mcast send: PORT must be an integer from 1 to 65535, got 'http'/],
    ['a TTL of 256', ['send', G, '5000', 'x', '--ttl', '256'], /^mcast send: --ttl must be an integer from 0 to 255, got '256'/],
    ['a negative TTL', ['send', G, '5000', 'x', '--ttl', '-1'], /^mcast send: --ttl must be an integer from 0 to 255, got '-1'/],
    ['an unknown interface name', ['recv', G, '5000', '--iface', 'mcnope0'], /^mcast recv: --iface: unknown interface 'mcnope0' \(see 'mcast ifaces'\)$/],
    ['an unknown interface index', ['recv', G, '5000', '--iface', '999'], /^mcast recv: --iface: no interface has index 999/],
    ['an address no interface has', ['send', G, '5000', 'x', '--iface', '10.99.99.99'], /^mcast send: --iface: no interface has the address 10\.99\.99\.99/],
    ['an IPv6 interface address for an IPv4 group', ['recv', G, '5000', '--iface', '::1'], /--iface: ::1 is an IPv6 address but the group is IPv4/],
    ['an unknown flag', ['recv', G, '5000', '--frobnicate'], /^mcast recv: unknown option '--frobnicate' \(see 'mcast recv --help'\)$/],
    ['a flag without its value', ['send', G, '5000', 'x', '--count'], /^mcast send: --count needs a value \(N\)/],
    ['a value given to a flag', ['recv', G, '5000', '--json=yes'], /^mcast recv: --json takes no value/],
    ['a count of 0', ['send', G, '5000', 'x', '--count', '0'], /^mcast send: --count must be an integer of at least 1, got '0'/],
    ['both --rate and --interval', ['send', G, '5000', 'x', '--rate', '10', '--interval', '5'], /^mcast send: give --rate or --interval, not both/],
    ['a timeout of 0', ['recv', G, '5000', '--timeout', '0'], /^mcast recv: --timeout must be a number greater than 0, got '0'/],
    ['a missing PORT', ['recv', G], /^mcast recv: missing PORT/],
    ['an extra argument', ['ifaces', 'extra'], /^mcast ifaces: unexpected argument 'extra'/],
    ['a multicast source', ['recv', '232.1.1.1', '5000', '--source', '239.0.0.1'], /^mcast recv: --source must be a unicast address/],
    ['a link-local IPv6 group without interface', ['recv', 'ff02::1', '5000'], /^mcast recv: ff02::1 is a link-local group: name its interface with --iface/],
    ['a message larger than a datagram', ['send', G, '5000', 'x'.repeat(65508)], /^mcast send: MESSAGE is 65508 bytes, more than the largest IPv4 UDP datagram \(65507 bytes\)/],
    ['a size larger than a datagram', ['send', G, '5000', 'x', '--size', '65508'], /^mcast send: --size must be an integer from 0 to 65507/],
    ['an unknown command', ['frobnicate'], /^mcast: unknown command 'frobnicate' \(commands: ifaces, recv, send, demo, record, replay, feed, feed-send, bench; see 'mcast --help'\)$/],
  ];

  it.each(cases)('%s', async (_what, args, message) => {
    const r = await mcast(net.self, args);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: '' });
    expect(r.stderr.endsWith('\n') && r.stderr.indexOf('\n') === r.stderr.length - 1).toBe(true);
    expect(r.stderr.trimEnd()).toMatch(message);
  });

  it('no command at all prints the usage to stderr, exit 2', async () => {
    const r = await mcast(net.self, []);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Usage: mcast COMMAND/);
  });
});

describe('--help', () => {
  it.each(['ifaces', 'recv', 'send', 'demo'])('mcast %s --help describes the command, exit 0', async (command) => {
    const r = await mcast(net.self, [command, '--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.startsWith(`Usage: mcast ${command}`)).toBe(true);
    expect(r.stdout).toContain('-h, --help');
  });

  it('mcast --help lists every command', async () => {
    const r = await mcast(net.self, ['--help']);
    expect(r.code).toBe(0);
    for (const command of ['ifaces', 'recv', 'send', 'demo', 'record', 'replay', 'bench']) expect(r.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });
});

describe('mcast ifaces', () => {
  it('lists index, name, flags and addresses of the host it runs in', async () => {
    const r = await mcast(hr, ['ifaces']);
    expect(r.code).toBe(0);
    const rows = r.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^INDEX\s+NAME\s+FLAGS\s+IGMP\s+MLD\s+ADDRESSES$/);
    expect(rows[1]).toMatch(/^1\s+lo\s+up,loopback\s+v3\s+v2\s+127\.0\.0\.1\/8 ::1\/128$/);
    expect(rows[2]).toMatch(
      new RegExp(`^${link.peer.ifindex}\\s+${link.peer.ifname}\\s+up,multicast\\s+v3\\s+v2\\s+10\\.83\\.1\\.2/24 fd83:1::2/64 ${link.peer.linkLocal}/64$`),
    );
    expect(rows).toHaveLength(3);
  });

  it('--json gives the same for scripts', async () => {
    const r = await mcast(hr, ['ifaces', '--json']);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as Array<{ name: string; index: number; flags: string[]; up: boolean; addresses: Array<{ family: string; address: string; prefixLength: number }> }>;
    expect(list.map((i) => i.name)).toEqual(['lo', link.peer.ifname]);
    expect(list[1]).toMatchObject({ index: link.peer.ifindex, up: true, multicast: true, loopback: false, flags: ['up', 'multicast'] });
    expect(list[1]?.addresses).toContainEqual(expect.objectContaining({ family: 'IPv4', address: R, netmask: '255.255.255.0', prefixLength: 24 }));
    expect(list[1]?.addresses).toContainEqual(expect.objectContaining({ family: 'IPv6', address: link.peer.linkLocal, prefixLength: 64 }));
  });
});

describe('mcast send -> mcast recv across namespaces', () => {
  it('--json --count 3: each stdin line arrives intact as one datagram, and recv exits 0', async () => {
    const port = uniquePort();
    const group = '239.83.1.1';
    const rx = await startRecv([group, String(port), '--iface', link.peer.ifname, '--json', '--count', '3', '--timeout', '10']);
    const payloads = ['plain ascii', 'ünïcödé ✓ 雪', 'tab\tseparated  and spaces '];
    const tx = await mcast(hs, ['send', group, String(port), '--iface', S], { input: `${payloads.join('\n')}\n` });
    expect(tx.code).toBe(0);
    expect((await rx.wait(10_000)).code).toBe(0);
    const from = senderPort(tx.stderr);
    expect(rx.lines.map((l) => JSON.parse(l) as unknown)).toEqual(
      payloads.map((data) => ({
        from: S,
        port: from,
        group,
        interface: link.peer.ifname,
        interfaceIndex: link.peer.ifindex,
        size: Buffer.byteLength(data),
        ttl: 1,
        encoding: 'text',
        data,
      })),
    );
    expect(tx.stderr).toContain(`sending to ${group}:${port} via ${link.self.ifname} (index ${link.self.ifindex}) from port ${from}, TTL 1 (default), loopback on`);
    expect(tx.stderr).toContain(`sent ${Buffer.byteLength(payloads[1]!)} bytes: ${payloads[1]}`);
    expect(tx.stderr).toMatch(/sent 3 datagrams \(\d+ bytes\) to 239\.83\.1\.1:\d+ in [\d.]+ s/);
  });

  it('prints one text line per datagram by default, hex with --hex; --size pads with "." or cuts', async () => {
    const port = uniquePort();
    const group = '239.83.1.2';
    const text = await startRecv([group, String(port), '--iface', String(link.peer.ifindex), '--count', '2', '--timeout', '10']);
    const hex = await startRecv([group, String(port), '--iface', R, '--hex', '--count', '2', '--timeout', '10']);
    const padded = await mcast(hs, ['send', group, String(port), 'hello', '--iface', link.self.ifname, '--size', '8']);
    const cut = await mcast(hs, ['send', group, String(port), 'abcdef', '--iface', link.self.ifname, '--size', '3']);
    expect([padded.code, cut.code, (await text.wait()).code, (await hex.wait()).code]).toEqual([0, 0, 0, 0]);
    const p1 = senderPort(padded.stderr);
    const p2 = senderPort(cut.stderr);
    const head = (p: number) => `${S}:${p} -> ${group} (${link.peer.ifname})`;
    expect(text.lines).toEqual([`${head(p1)} 8 bytes: hello...`, `${head(p2)} 3 bytes: abc`]);
    expect(hex.lines).toEqual([`${head(p1)} 8 bytes: 68656c6c6f2e2e2e`, `${head(p2)} 3 bytes: 616263`]);
    expect(text.stderr).toContain(`joined ${group} on ${link.peer.ifname} (index ${link.peer.ifindex})`);
  });

  it('--timestamps adds the kernel receive time in ns; --count with --rate paces the datagrams', async () => {
    const port = uniquePort();
    const group = '239.83.1.3';
    const rx = await startRecv([group, String(port), '--iface', link.peer.ifname, '--json', '--timestamps', '--count', '5', '--timeout', '10']);
    const before = BigInt(Date.now()) * 1_000_000n;
    const tx = await mcast(hs, ['send', group, String(port), 'tick', '--iface', link.self.ifname, '--count', '5', '--rate', '50', '-q']);
    const after = BigInt(Date.now()) * 1_000_000n;
    expect(tx.code).toBe(0);
    expect(tx.stderr).not.toContain('sent 4 bytes');
    expect((await rx.wait()).code).toBe(0);
    const stamps = rx.lines.map((l) => (JSON.parse(l) as { timestamp: string }).timestamp);
    expect(stamps).toHaveLength(5);
    for (const s of stamps) {
      expect(s).toMatch(/^\d+$/);
      expect(BigInt(s) >= before && BigInt(s) <= after).toBe(true);
    }
    // 50 per second: the five are 20 ms apart, 80 ms from the first to the last.
    const first = BigInt(stamps[0]!);
    const last = BigInt(stamps[4]!);
    expect(Number(last - first) / 1e6).toBeGreaterThanOrEqual(75);
    expect(Number(last - first) / 1e6).toBeLessThan(1000);
  });

  it('--count without pacing sends bursts of repeats as UDP_SEGMENT messages, every datagram arriving', async () => {
    const port = uniquePort();
    const group = '239.83.1.8';
    // Small enough for the receiver's default buffer: 100 × 200 bytes at once.
    const rx = await startRecv([group, String(port), '--iface', link.peer.ifname, '--count', '100', '--timeout', '10']);
    const tx = await mcast(hs, ['send', group, String(port), 'burst', '--iface', link.self.ifname, '--count', '100', '--interval', '0', '--size', '200', '-q']);
    expect(tx.code).toBe(0);
    // 100 repeats in bursts of at most 64: 64 + 36, each one message.
    expect(tx.stderr).toContain('sent 100 datagrams (20000 bytes, 2 UDP_SEGMENT messages)');
    expect((await rx.wait()).code).toBe(0);
    expect(rx.lines).toHaveLength(100);
  });

  it('repeats of one MESSAGE go one per second unless told otherwise', async () => {
    const port = uniquePort();
    const group = '239.83.1.4';
    const rx = await startRecv([group, String(port), '--iface', link.peer.ifname, '--json', '--timestamps', '--count', '2', '--timeout', '10']);
    const tx = await mcast(hs, ['send', group, String(port), 'slow', '--iface', link.self.ifname, '--count', '2']);
    expect(tx.code).toBe(0);
    expect((await rx.wait()).code).toBe(0);
    const [a, b] = rx.lines.map((l) => BigInt((JSON.parse(l) as { timestamp: string }).timestamp));
    expect(Number(b! - a!) / 1e6).toBeGreaterThanOrEqual(990);
  });

  it('IPv6: an ff1e:: group joined by interface index', async () => {
    const port = uniquePort();
    const group = 'ff1e::83:1';
    const rx = await startRecv([group, String(port), '--iface', String(link.peer.ifindex), '--json', '--count', '1', '--timeout', '10']);
    const tx = await mcast(hs, ['send', group, String(port), 'hello v6', '--iface', link.self.ifname, '--ttl', '4']);
    expect(tx.code).toBe(0);
    expect((await rx.wait()).code).toBe(0);
    expect(JSON.parse(rx.lines[0] ?? '')).toMatchObject({
      from: S6,
      port: senderPort(tx.stderr),
      group,
      interface: link.peer.ifname,
      ttl: 4,
      data: 'hello v6',
    });
    expect(tx.stderr).toContain(`sending to [${group}]:${port} via ${link.self.ifname}`);
  });

  it('--source: a source-specific receiver hears its source; one waiting for another source times out (exit 1)', async () => {
    const port = uniquePort();
    const group = '232.83.1.5';
    const right = await startRecv([group, String(port), '--iface', link.peer.ifname, '--source', S, '--count', '1', '--timeout', '10']);
    const wrong = await startRecv([group, String(port), '--iface', link.peer.ifname, '--source', '10.83.1.99', '--count', '1', '--timeout', '1']);
    expect(right.stderr).toContain(`from source ${S} only`);
    const tx = await mcast(hs, ['send', group, String(port), 'ssm', '--iface', link.self.ifname]);
    expect(tx.code).toBe(0);
    expect((await right.wait()).code).toBe(0);
    expect(right.lines).toEqual([`${S}:${senderPort(tx.stderr)} -> ${group} (${link.peer.ifname}) 3 bytes: ssm`]);
    const end = await wrong.wait();
    expect(end.code).toBe(1);
    expect(wrong.lines).toEqual([]);
    expect(wrong.stderr).toContain('timeout after 1 s: received 0, wanted 1 datagram');
  });

  it('exits 1 when --timeout passes before --count datagrams', async () => {
    const port = uniquePort();
    const group = '239.83.1.6';
    const rx = await startRecv([group, String(port), '--iface', link.peer.ifname, '--count', '2', '--timeout', '1']);
    expect((await mcast(hs, ['send', group, String(port), 'only one', '--iface', link.self.ifname])).code).toBe(0);
    expect((await rx.wait()).code).toBe(1);
    expect(rx.lines).toHaveLength(1);
    expect(rx.stderr).toContain('timeout after 1 s: received 1, wanted 2 datagrams');
  });

  it('Ctrl-C prints the summary (received, kernel drops) on stderr and exits 130', async () => {
    const port = uniquePort();
    const group = '239.83.1.7';
    const rx = await startRecv([group, String(port), '--iface', link.peer.ifname]);
    expect((await mcast(hs, ['send', group, String(port), '12345', '--iface', link.self.ifname, '--count', '2', '--interval', '0'])).code).toBe(0);
    await rx.waitLines(2);
    rx.child.kill('SIGINT');
    const end = await rx.wait();
    expect(end.code).toBe(130);
    expect(rx.stderr.trimEnd().split('\n').pop()).toBe('received 2 datagrams (10 bytes), kernel drops 0');
  });
});

describe('without --iface', () => {
  it('send says which interface the kernel routes the group to, and recv joins there', async () => {
    const port = uniquePort();
    const group = '239.83.2.1';
    await hs.addMulticastRoute(link.self.ifname, '239.83.2.0/24');
    await hr.addMulticastRoute(link.peer.ifname, '239.83.2.0/24');
    const rx = await startRecv([group, String(port), '--count', '1', '--timeout', '10']);
    expect(rx.stderr).toContain(`no --iface given: the kernel will join on ${link.peer.ifname} (index ${link.peer.ifindex}), by its route to ${group}`);
    const tx = await mcast(hs, ['send', group, String(port), 'routed']);
    expect(tx.code).toBe(0);
    expect(tx.stderr).toContain(`no --iface given: the kernel will send on ${link.self.ifname} (index ${link.self.ifindex}), by its route to ${group}`);
    expect((await rx.wait()).code).toBe(0);
    expect(rx.lines).toEqual([`${S}:${senderPort(tx.stderr)} -> ${group} (${link.peer.ifname}) 6 bytes: routed`]);
  });

  it('with no route to the group, send and recv refuse to guess (exit 1)', async () => {
    const send = await mcast(hs, ['send', '238.83.2.2', '5000', 'x']);
    const recv = await mcast(hr, ['recv', '238.83.2.2', '5000', '--timeout', '1']);
    for (const [r, verb] of [[send, 'send'], [recv, 'join']] as const) {
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `mcast ${verb === 'join' ? 'recv' : 'send'}: the kernel has no route to 238.83.2.2, so it has no interface to ${verb} on: name one with --iface (see 'mcast ifaces')\n`,
      );
    }
  });
});

describe('the route lookup used where iproute2 is missing', () => {
  it('finds the interface of the longest matching prefix in /proc/net/route, then the lowest metric', () => {
    const table = [
      'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
      'mca0\t0000090A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
      'lo\t000000E0\t00000000\t0001\t0\t0\t0\t000000F0\t0\t0\t0',
      'mca0\t000000EF\t00000000\t0001\t0\t0\t10\t000000FF\t0\t0\t0',
      'mcb0\t000000EF\t00000000\t0001\t0\t0\t5\t000000FF\t0\t0\t0',
      'mcc0\t0001FFEF\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0',
    ].join('\n');
    expect(procRouteLookup(table, '239.1.2.3')).toBe('mcb0'); // 239/8 twice: metric 5 wins
    expect(procRouteLookup(table, '238.1.2.3')).toBe('lo'); // only 224/4
    expect(procRouteLookup(table, '239.255.1.9')).toBe('mcb0'); // 239.255.1/24 is not up
    expect(procRouteLookup(table.split('\n').slice(0, 2).join('\n'), '239.1.2.3')).toBeUndefined();
  });
});

describe('mcast demo', () => {
  const greeting = /^receiver ([123]): "Hello, multicast world!" from 127\.0\.0\.1:(\d+)$/;

  function checkGreetings(stdout: string): void {
    const lines = stdout.split('\n');
    const sender = /^sender: port (\d+) -> 239\.255\.70\.77:\d+ on lo, TTL 0: "Hello, multicast world!"$/m.exec(stdout)?.[1];
    expect(sender).toBeDefined();
    const got = lines.flatMap((l) => {
      const m = greeting.exec(l);
      return m ? [`${m[1]}:${m[2]}`] : [];
    });
    expect(got.sort()).toEqual([`1:${sender}`, `2:${sender}`, `3:${sender}`]);
    expect(stdout).toMatch(/^all 3 receivers got the greeting/m);
  }

  it('re-executes itself in a private network namespace, says so, and all three receivers greet (exit 0)', async () => {
    const r = await mcast(net.self, ['demo']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('mcast demo: re-executed inside a private network namespace (unshare --net --fork): lo is its only interface');
    expect(r.stdout).toContain('sending on lo with TTL 0, so nothing leaves the host');
    checkGreetings(r.stdout);
  });

  it('without a namespace (unshare refused) it runs on the loopback with TTL 0 and says so', async () => {
    const host = await net.host('d1');
    const fake = mkdtempSync(join(tmpdir(), 'mcast-demo-'));
    try {
      writeFileSync(join(fake, 'unshare'), '#!/bin/sh\necho "unshare: unshare failed: Operation not permitted" >&2\nexit 1\n', { mode: 0o755 });
      const env = { ...process.env, PATH: `${fake}:${process.env.PATH ?? ''}` };
      const r = await mcast(host, ['demo'], { env });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('mcast demo: could not make a private network namespace (unshare: unshare failed: Operation not permitted)');
      expect(r.stdout).toContain("running on this host's loopback instead: outgoing interface lo (IP_MULTICAST_IF) and TTL 0, so nothing leaves the host");
      checkGreetings(r.stdout);

      // And when even the loopback cannot carry it: a clear message, exit 1.
      await host.ip('link', 'set', 'lo', 'down');
      const down = await mcast(host, ['demo'], { env });
      expect(down.code).toBe(1);
      expect(down.stderr).toContain('mcast demo: FAILED: lo is down in this network namespace');
    } finally {
      rmSync(fake, { recursive: true, force: true });
    }
  });
});

describe('mcast bench', () => {
  it('runs node bench/run.mjs with the remaining arguments and passes its exit code on', async () => {
    // A copy of dist/ in a package whose bench/run.mjs reports what it got.
    const pkg = mkdtempSync(join(tmpdir(), 'mcast-bench-'));
    try {
      cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
      cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
      // No node_modules and no native build: the stub must not need the addon.
      const cli = join(pkg, 'dist', 'cli.js');
      const missing = await net.self.exec([process.execPath, cli, 'bench']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain(`${join(pkg, 'bench', 'run.mjs')} not found`);

      mkdirSync(join(pkg, 'bench'));
      writeFileSync(join(pkg, 'bench', 'run.mjs'), 'console.log(JSON.stringify(process.argv.slice(2)));\nprocess.exit(7);\n');
      const r = await net.self.exec([process.execPath, cli, 'bench', '--size', '64', '--help']);
      expect(r.code).toBe(7);
      expect(r.stdout).toBe('["--size","64","--help"]\n');
    } finally {
      rmSync(pkg, { recursive: true, force: true });
    }
  });
});

it('the package bin and `npm run demo` point at dist/cli.js', async () => {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
  expect(pkg.bin.mcast).toBe('./dist/cli.js');
  expect(pkg.scripts.demo).toBe('node dist/cli.js demo');
  expect(CLI).toBe(join(ROOT, 'dist', 'cli.js'));
});
