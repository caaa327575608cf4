/**
 * Tests of the test harness itself: the sandbox check, the runner, topologies of peer hosts,
 * captures and their parsers, and teardown. Needs no native addon. Every packet stays inside
 * namespaces made here (under the run-in-netns sandbox).
 */
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

import {
  FILTER_MLD,
  Topology,
  captureAvailable,
  parseMembershipReport,
  parseTcpdump,
  pidsInNetns,
  type Host,
  type Packet,
} from './harness/netns.js';
import { assertSandboxed, checkSandbox, readSandboxInputs, type SandboxInputs } from './harness/sandbox.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const RUNNER = join(ROOT, 'test', 'harness', 'run-in-netns.mjs');

/** Joins (or source-joins) an IPv4 group on an interface address, holds, then leaves. */
const PY_JOIN4 = `
import socket, struct, sys, time
group, ifaddr, source, hold = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if source:
    mreq = struct.pack('4s4s4s', socket.inet_aton(group), socket.inet_aton(ifaddr), socket.inet_aton(source))
    add, drop = 39, 40  # IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP
else:
    mreq = struct.pack('4s4s', socket.inet_aton(group), socket.inet_aton(ifaddr))
    add, drop = socket.IP_ADD_MEMBERSHIP, socket.IP_DROP_MEMBERSHIP
s.setsockopt(socket.IPPROTO_IP, add, mreq)
print('joined', flush=True)
time.sleep(hold)
s.setsockopt(socket.IPPROTO_IP, drop, mreq)
print('left', flush=True)
time.sleep(0.3)
`;

/** Joins an IPv6 group (MCAST_JOIN_GROUP / MCAST_JOIN_SOURCE_GROUP) on an interface, holds. */
const PY_JOIN6 = `
import socket, struct, sys, time
group, ifname, source, hold = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
idx = socket.if_nametoindex(ifname)
def ss(addr):  # struct sockaddr_storage holding a sockaddr_in6
    return struct.pack('<HHI', socket.AF_INET6, 0, 0) + socket.inet_pton(socket.AF_INET6, addr) + struct.pack('<I', 0) + bytes(128 - 28)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
if source:
    s.setsockopt(socket.IPPROTO_IPV6, 46, struct.pack('@I4x', idx) + ss(group) + ss(source))  # MCAST_JOIN_SOURCE_GROUP
else:
    s.setsockopt(socket.IPPROTO_IPV6, 42, struct.pack('@I4x', idx) + ss(group))  # MCAST_JOIN_GROUP
print('joined', flush=True)
time.sleep(hold)
`;

/** Sends one UDP datagram to a multicast group with a chosen TTL / hop limit out of an interface. */
const PY_SEND_MCAST = `
import socket, sys
family, group, port, ifref, ttl = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
if family == '4':
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, ttl)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ifref))
else:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex(ifref))
s.sendto(b'hello', (group, port))
`;

/** Echo server: answers one UDP datagram with its payload upper-cased. */
const PY_UDP_ECHO = `
import socket, sys
family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])) if family == socket.AF_INET else (sys.argv[1], int(sys.argv[2]), 0, int(sys.argv[3]) if len(sys.argv) > 3 else 0))
print('ready', flush=True)
s.settimeout(10)
data, peer = s.recvfrom(2048)
s.sendto(data.upper(), peer)
`;

/** Sends one UDP datagram and prints the answer. */
const PY_UDP_ASK = `
import socket, sys
addr, port, scope = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0
if ':' in addr:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); dest = (addr, port, 0, scope)
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); dest = (addr, port)
s.settimeout(5)
s.sendto(b'ping', dest)
print(s.recvfrom(2048)[0].decode())
`;

/** Starts the echo server in `host` and waits until it is bound; `exited` tells its exit code. */
async function echoServer(host: Host, args: string[]): Promise<{ exited: Promise<number | null> }> {
  const child = host.spawn(['python3', '-c', PY_UDP_ECHO, ...args]);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`echo server exited ${code}`)));
  });
  return { exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
}

function runNode(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env, timeout: 20_000 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; signal?: string }) | null;
      resolve({
        code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        signal: e?.signal ?? null,
        stdout,
        stderr,
      });
    });
  });
}

const isReport = (group: string) => (p: Packet) => p.report?.records.some((r) => r.group === group) ?? false;

describe('sandbox check', () => {
  it('passes inside the sandbox, where lo is the only interface and no route exists', () => {
    expect(() => assertSandboxed()).not.toThrow();
    const inputs = readSandboxInputs();
    expect(inputs.token).toMatch(/^\d+:\d+:[0-9a-f]+$/);
    const [outer, inner] = (inputs.token ?? '').split(':');
    expect(inputs.netns).toBe(`net:[${inner}]`);
    expect(outer).not.toBe(inner);
    expect(readdirSync('/sys/class/net').filter((n) => !n.startsWith('mc'))).toEqual(['lo']);
  });

  const good: SandboxInputs = {
    token: '4026531833:4026532247:0123456789abcdef',
    netns: 'net:[4026532247]',
    pid1Netns: 'net:[4026531833]',
    interfaces: ['lo', 'mca0'],
    ipv4Routes: 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n',
    ipv6Routes:
      '00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n' +
      '00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n',
  };

  it('accepts a private namespace (the kernel IPv6 reject entry is not a default route)', () => {
    expect(checkSandbox(good)).toEqual([]);
  });

  it('refuses without the token, with a foreign interface, or with default routes', () => {
    expect(checkSandbox({ ...good, token: undefined }).join()).toMatch(/MCAST_NETNS_SANDBOX is not set/);
    expect(checkSandbox({ ...good, token: 'forged' }).join()).toMatch(/malformed/);
    expect(checkSandbox({ ...good, interfaces: ['lo', 'eth0', 'mca0'] }).join()).toMatch(/not made by the harness: eth0/);
    expect(
      checkSandbox({
        ...good,
        ipv4Routes: `${good.ipv4Routes}eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n`,
      }).join(),
    ).toMatch(/IPv4 default route/);
    expect(
      checkSandbox({
        ...good,
        ipv6Routes: `${good.ipv6Routes}00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n`,
      }).join(),
    ).toMatch(/IPv6 default route/);
  });

  it("refuses in the caller's or PID 1's network namespace", () => {
    expect(checkSandbox({ ...good, netns: 'net:[4026531833]' }).join()).toMatch(/started from/);
    expect(checkSandbox({ ...good, pid1Netns: good.netns }).join()).toMatch(/PID 1/);
  });

  it('assertSandboxed throws a clear error on the host-like inputs', () => {
    const host: SandboxInputs = {
      token: undefined,
      netns: 'net:[4026531833]',
      pid1Netns: 'net:[4026531833]',
      interfaces: ['lo', 'eth0'],
      ipv4Routes: `${good.ipv4Routes}eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n`,
      ipv6Routes: good.ipv6Routes,
    };
    expect(() => assertSandboxed(host)).toThrow(/Not inside the private network namespace[\s\S]*eth0/);
  });
});

describe('run-in-netns.mjs (nested inside the sandbox)', () => {
  it('runs the command in a fresh namespace with only lo, passing args, env token and exit code', async () => {
    const script = `
      const fs = require('node:fs');
      console.log(JSON.stringify({
        netns: fs.readlinkSync('/proc/self/ns/net'),
        sys: fs.readdirSync('/sys/class/net'),
        token: process.env.MCAST_NETNS_SANDBOX,
        args: process.argv.slice(1),
      }));
      process.exit(7);`;
    const r = await runNode([RUNNER, 'node', '-e', script, 'a b', '--flag']);
    expect(r.code).toBe(7);
    const out = JSON.parse(r.stdout) as { netns: string; sys: string[]; token: string; args: string[] };
    expect(out.sys).toEqual(['lo']);
    expect(out.args).toEqual(['a b', '--flag']);
    expect(out.netns).not.toBe(readSandboxInputs().netns);
    // Its token names our namespace as the one it was started from.
    expect(out.token.split(':')[0]).toBe(/\d+/.exec(readSandboxInputs().netns)?.[0]);
  });

  it('passes a terminating signal through', async () => {
    const r = await runNode([RUNNER, 'node', '-e', "process.kill(process.pid, 'SIGTERM')"]);
    expect(r.signal).toBe('SIGTERM');
  });

  it('refuses --inside when called directly', async () => {
    const r = await runNode([RUNNER, '--inside', '--', 'true']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/refusing to run/);
  });
});

describe('Topology', () => {
  it('connects two peer hosts and the sandbox with veth links; UDP unicast crosses them', async () => {
    const net = await Topology.create('t1');
    const pa = await net.host('pa');
    const pb = await net.host('pb');
    expect(pa.pid).toBeGreaterThan(0);
    expect(pa.netnsInode).not.toBe(net.self.netnsInode);
    expect(pa.netnsInode).not.toBe(pb.netnsInode);
    expect(await pa.interfaces()).toEqual(['lo']);

    const l1 = await net.link(net.self, 'mct1a', pa, 'mct1pa', { selfAddr: '10.1.1.1/24', peerAddr: '10.1.1.2/24' });
    const l2 = await net.link(pa, 'mct1pb', pb, 'mct1b', {
      selfAddr: '10.2.2.1/24',
      peerAddr: '10.2.2.2/24',
      selfAddr6: 'fd00:2::1/64',
      peerAddr6: 'fd00:2::2/64',
    });
    expect(l1.self).toMatchObject({ ifname: 'mct1a', addr4: '10.1.1.1', addr6: null });
    expect(l1.peer).toMatchObject({ ifname: 'mct1pa', addr4: '10.1.1.2' });
    expect(l2.peer.addr6).toBe('fd00:2::2');
    expect(l2.peer.linkLocal).toMatch(/^fe80::/);
    expect(l1.self.ifindex).toBeGreaterThan(1);
    expect((await pb.interfaces()).sort()).toEqual(['lo', 'mct1b']);

    // Each peer sees its own interfaces in /sys/class/net (its own sysfs).
    const sys = await pa.exec(['ls', '/sys/class/net'], { check: true });
    expect(sys.stdout.split('\n').filter(Boolean).sort()).toEqual(['lo', 'mct1pa', 'mct1pb']);

    // pa -> pb over IPv4, IPv6 global and IPv6 link-local.
    for (const [bind, ask] of [
      [['10.2.2.2', '5001'], ['10.2.2.2', '5001']],
      [['fd00:2::2', '5002'], ['fd00:2::2', '5002']],
      [['::', '5003'], [l2.peer.linkLocal, '5003', String(l2.self.ifindex)]],
    ] as const) {
      const served = await echoServer(pb, [...bind]);
      const r = await pa.python(PY_UDP_ASK, [...ask], { check: true });
      expect(r.stdout.trim()).toBe('PING');
      expect(await served.exited).toBe(0);
    }

    // The sandbox (this very process) -> pa with node:dgram.
    const served = await echoServer(pa, ['10.1.1.2', '5004']);
    const sock = createSocket('udp4');
    const reply = await new Promise<string>((resolve, reject) => {
      sock.once('error', reject);
      sock.once('message', (m) => resolve(m.toString()));
      sock.bind(0, '10.1.1.1', () => sock.send('ping', 5004, '10.1.1.2'));
    });
    sock.close();
    expect(reply).toBe('PING');
    expect(await served.exited).toBe(0);

    // pb has no route to 10.1.1.0/24: nothing leaves without one (no default routes anywhere).
    const noRoute = await pb.python(PY_UDP_ASK, ['10.1.1.1', '5005']);
    expect(noRoute.stderr).toMatch(/Network is unreachable/);
    await net.destroy();
  });

  it('writes sysctls per host and adds multicast routes', async () => {
    const net = await Topology.create('t2');
    const pa = await net.host('pa');
    await net.link(net.self, 'mct2a', pa, 'mct2pa', { selfAddr: '10.3.3.1/24', peerAddr: '10.3.3.2/24' });
    const before = await net.self.readSysctl('net.ipv4.igmp_max_memberships');
    await pa.sysctl('net.ipv4.igmp_max_memberships', 5);
    expect(await pa.readSysctl('net.ipv4.igmp_max_memberships')).toBe('5');
    expect(await net.self.readSysctl('net/ipv4/igmp_max_memberships')).toBe(before);
    await pa.addMulticastRoute('mct2pa');
    expect(await pa.ip('route', 'show', '224.0.0.0/4')).toMatch(/224\.0\.0\.0\/4 dev mct2pa/);
    await expect(pa.sysctl('net.ipv4.no_such_thing', 1)).rejects.toThrow(/failed/);
    expect(() => net.ifname('toolongsuffix')).toThrow(/15 characters/);
    await expect(net.link(net.self, 'eth9', pa, 'mcx', {})).rejects.toThrow(/must start with "mc"/);
    await net.destroy();
  });
});

// tcpdump cannot run in a rootless sandbox (see captureAvailable()); CI and developers run as root.
describe.skipIf(!captureAvailable())('captures', () => {
  it('sees IGMPv3 records of python joins (ASM, SSM, leave) and the TTL of a multicast datagram', async () => {
    const net = await Topology.create('t3');
    const pa = await net.host('pa');
    const link = await net.link(net.self, 'mct3a', pa, 'mct3pa', { selfAddr: '10.4.4.1/24', peerAddr: '10.4.4.2/24' });
    const cap = await net.capture(link.self, 'igmp or (udp and dst host 239.9.9.9)');

    const asm = pa.python(PY_JOIN4, ['239.1.2.3', '10.4.4.2', '', '0.5'], { check: true });
    const join = await cap.waitFor(isReport('239.1.2.3'));
    expect(join.report?.protocol).toBe('igmpv3');
    expect(join.report?.records).toContainEqual({ group: '239.1.2.3', type: 'CHANGE_TO_EXCLUDE', sources: [], sourceCount: 0 });
    expect(join).toMatchObject({ family: 4, ttl: 1, src: '10.4.4.2', dst: '224.0.0.22', proto: 'IGMP' });
    await asm;
    const leave = await cap.waitFor(
      (p) => p.report?.records.some((r) => r.group === '239.1.2.3' && r.type === 'CHANGE_TO_INCLUDE') ?? false,
    );
    expect(leave.report?.records.find((r) => r.group === '239.1.2.3')?.sources).toEqual([]);

    const ssm = pa.python(PY_JOIN4, ['232.1.1.1', '10.4.4.2', '10.4.4.1', '0.2'], { check: true });
    const sjoin = await cap.waitFor(isReport('232.1.1.1'));
    expect(sjoin.report?.records).toContainEqual({
      group: '232.1.1.1',
      type: 'ALLOW_NEW_SOURCES',
      sources: ['10.4.4.1'],
      sourceCount: 1,
    });
    await ssm;

    await pa.python(PY_SEND_MCAST, ['4', '239.9.9.9', '5000', '10.4.4.2', '7'], { check: true });
    const dgram = await cap.waitFor((p) => p.dst === '239.9.9.9');
    expect(dgram).toMatchObject({ family: 4, ttl: 7, proto: 'UDP', src: '10.4.4.2', dstPort: 5000, udpLength: 5 });

    const { lines, packets } = await cap.stop();
    expect(lines.some((l) => l.includes('igmp v3 report'))).toBe(true);
    expect(packets.filter((p) => p.proto === 'IGMP').length).toBeGreaterThanOrEqual(3);
    expect(cap.running).toBe(false);
    await net.destroy();
  });

  it('sees MLDv2 records (ASM and SSM) and the hop limit of an IPv6 multicast datagram', async () => {
    const net = await Topology.create('t4');
    const pa = await net.host('pa');
    const link = await net.link(net.self, 'mct4a', pa, 'mct4pa');
    const cap = await net.capture(link.self, `${FILTER_MLD} or (udp and dst host ff15::99)`);

    const asm = pa.python(PY_JOIN6, ['ff15::1234', 'mct4pa', '', '0.3'], { check: true });
    const join = await cap.waitFor(isReport('ff15::1234'));
    expect(join.report?.protocol).toBe('mldv2');
    expect(join.report?.records).toContainEqual({ group: 'ff15::1234', type: 'CHANGE_TO_EXCLUDE', sources: [], sourceCount: 0 });
    expect(join).toMatchObject({ family: 6, ttl: 1, src: link.peer.linkLocal, dst: 'ff02::16', proto: 'ICMP6' });
    await asm;

    const ssm = pa.python(PY_JOIN6, ['ff35::1', 'mct4pa', link.self.linkLocal, '0.3'], { check: true });
    const sjoin = await cap.waitFor(isReport('ff35::1'));
    expect(sjoin.report?.records).toContainEqual({
      group: 'ff35::1',
      type: 'ALLOW_NEW_SOURCES',
      sources: [link.self.linkLocal],
      sourceCount: 1,
    });
    await ssm;

    await pa.python(PY_SEND_MCAST, ['6', 'ff15::99', '5000', 'mct4pa', '9'], { check: true });
    const dgram = await cap.waitFor((p) => p.dst === 'ff15::99');
    expect(dgram).toMatchObject({ family: 6, ttl: 9, proto: 'UDP', dstPort: 5000, udpLength: 5 });
    await net.destroy();
  });

  it('parses IGMPv2 and MLDv1 messages when a host is forced to the old versions', async () => {
    const net = await Topology.create('t5');
    const pa = await net.host('pa');
    const link = await net.link(net.self, 'mct5a', pa, 'mct5pa', { selfAddr: '10.5.5.1/24', peerAddr: '10.5.5.2/24' });
    await pa.sysctl('net.ipv4.conf.mct5pa.force_igmp_version', 2);
    await pa.sysctl('net/ipv6/conf/mct5pa/force_mld_version', 1);
    const cap = await net.capture(link.self, `igmp or ${FILTER_MLD}`);
    await pa.python(PY_JOIN4, ['239.5.5.5', '10.5.5.2', '', '0.2'], { check: true });
    await pa.python(PY_JOIN6, ['ff15::55', 'mct5pa', '', '0.2'], { check: true });
    const v2 = await cap.waitFor(isReport('239.5.5.5'));
    expect(v2.report).toEqual({ protocol: 'igmpv2', records: [{ group: '239.5.5.5', type: 'REPORT', sources: [], sourceCount: 0 }] });
    const v2leave = await cap.waitFor((p) => p.report?.records[0]?.type === 'LEAVE' && p.report.protocol === 'igmpv2');
    expect(v2leave.report?.records[0]?.group).toBe('239.5.5.5');
    const mld1 = await cap.waitFor(isReport('ff15::55'));
    expect(mld1.report?.protocol).toBe('mldv1');
    expect(mld1.report?.records[0]?.type).toBe('REPORT');
    // The socket closes at exit: an MLDv1 "done".
    const done = await cap.waitFor((p) => p.report?.protocol === 'mldv1' && p.report.records[0]?.type === 'LEAVE');
    expect(done.report?.records[0]?.group).toBe('ff15::55');
    await net.destroy();
  });

  it('stops by itself after count packets', async () => {
    const net = await Topology.create('t6');
    const pa = await net.host('pa');
    const link = await net.link(pa, 'mct6a', pa, 'mct6b', { selfAddr: '10.6.6.1/24', peerAddr: '10.6.6.2/24' });
    const cap = await net.capture(link.peer, 'udp', { count: 2, timeoutMs: 10_000 });
    for (let i = 0; i < 3; i++) {
      await pa.python(PY_SEND_MCAST, ['4', '239.6.6.6', '6000', '10.6.6.1', '3'], { check: true });
    }
    const { packets } = await cap.done();
    expect(packets).toHaveLength(2);
    expect(packets.every((p) => p.ttl === 3 && p.dst === '239.6.6.6')).toBe(true);
    await net.destroy();
  });
});

describe('parsers (on tcpdump 4.99 text)', () => {
  it('parses -v records (counts only) and multi-source -vv records', () => {
    expect(parseMembershipReport('igmp v3 report, 2 group record(s) [gaddr 232.1.1.1 allow, 1 source(s)] [gaddr 239.1.2.3 to_ex, 0 source(s)]')).toEqual({
      protocol: 'igmpv3',
      records: [
        { group: '232.1.1.1', type: 'ALLOW_NEW_SOURCES', sources: null, sourceCount: 1 },
        { group: '239.1.2.3', type: 'CHANGE_TO_EXCLUDE', sources: null, sourceCount: 0 },
      ],
    });
    expect(parseMembershipReport('igmp v3 report, 1 group record(s) [gaddr 232.1.1.1 block { 10.0.0.1 10.0.0.2 }]')?.records).toEqual([
      { group: '232.1.1.1', type: 'BLOCK_OLD_SOURCES', sources: ['10.0.0.1', '10.0.0.2'], sourceCount: 2 },
    ]);
    expect(parseMembershipReport('UDP, length 5')).toBeNull();
  });

  it('groups continuation lines into packets and reads addresses, ports, TTL', () => {
    const packets = parseTcpdump([
      '1795604496.821098 IP (tos 0x0, ttl 7, id 58185, offset 0, flags [DF], proto UDP (17), length 33)',
      '    10.1.1.2.47768 > 239.9.9.9.5000: [bad udp cksum 0x0334 -> 0xeacb!] UDP, length 5',
      '1795604496.575552 IP6 (hlim 1, next-header Options (0) payload length: 36) fe80::98fa:c8ff:febe:402f > ff02::16: HBH (rtalert: 0x0000) (padn) [icmp6 sum ok] ICMP6, multicast listener report v2, 1 group record(s) [gaddr ff02::1:ffbe:402f to_ex { }]',
      '\t    0x0000:  9afa c8be 402f',
      '1795604497.000000 ARP, Request who-has 10.1.1.2 tell 10.1.1.1, length 28',
    ]);
    expect(packets).toHaveLength(3);
    expect(packets[0]).toMatchObject({ time: 1795604496.821098, family: 4, ttl: 7, src: '10.1.1.2', srcPort: 47768, dst: '239.9.9.9', dstPort: 5000, proto: 'UDP', udpLength: 5 });
    expect(packets[1]).toMatchObject({ family: 6, ttl: 1, src: 'fe80::98fa:c8ff:febe:402f', srcPort: null, dst: 'ff02::16', proto: 'ICMP6' });
    expect(packets[1]?.report?.records).toEqual([{ group: 'ff02::1:ffbe:402f', type: 'CHANGE_TO_EXCLUDE', sources: [], sourceCount: 0 }]);
    expect(packets[1]?.lines).toHaveLength(2);
    expect(packets[2]).toMatchObject({ family: null, src: null });
  });
});

describe('teardown', () => {
  it('destroy() kills every process, removes every interface and namespace; it is idempotent', async () => {
    const net = await Topology.create('t7');
    const pa = await net.host('pa');
    const pb = await net.host('pb');
    await net.link(net.self, 'mct7a', pa, 'mct7pa');
    await net.link(pa, 'mct7pb', pb, 'mct7b');
    await net.link(net.self, 'mct7c', net.self, 'mct7d');
    const child = pa.spawn(['sleep', '1000']);
    // A grandchild that escapes the spawn()ed process: destroy() still finds it by namespace.
    await pb.exec(['sh', '-c', 'sleep 1000 >/dev/null 2>&1 &'], { check: true });
    if (captureAvailable()) await net.capture({ host: pb, ifname: 'mct7b' }, 'udp');
    const pids = [pa.pid, pb.pid, child.pid];
    const inodes = [pa.netnsInode, pb.netnsInode];
    expect(pidsInNetns(pb.netnsInode).length).toBeGreaterThanOrEqual(2);

    await net.destroy();
    await net.destroy();

    const ifs = readdirSync('/sys/class/net');
    expect(ifs.filter((n) => n.startsWith('mct7'))).toEqual([]);
    expect(readFileSync('/proc/net/dev', 'utf8')).not.toMatch(/mct7/);
    for (const pid of pids) expect(() => process.kill(pid ?? -1, 0)).toThrow();
    for (const inode of inodes) expect(pidsInNetns(inode)).toEqual([]);
    await expect(pa.exec(['true'])).rejects.toThrow(/destroyed/);
    await expect(net.host('pc')).rejects.toThrow(/destroyed/);
  });
});
