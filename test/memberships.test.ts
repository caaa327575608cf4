/**
 * memberships(): the kernel's view of the host's multicast memberships, parsed from /proc/net/igmp,
 * igmp6, mcfilter and mcfilter6. The fixtures are real files, captured in a namespace by
 * test/fixtures/proc-net/capture.sh (two interfaces: mcfx0 IGMPv3/MLDv2, mcfx1 forced to IGMPv2 and
 * MLDv1; any-source, source-specific and blocked-source joins). Then live: a program in a peer
 * host joins through mcast and reads memberships() there, its own sockets marked.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMemberships, type KernelGroup } from '../lib/index.js';
import { type Host, type Link, Topology } from './harness/netns.js';
import { Agent } from './network/agent.js';
import { mcast } from './wire-helpers.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/proc-net/${name}.txt`, import.meta.url), 'utf8');
const texts = { igmp: fixture('igmp'), igmp6: fixture('igmp6'), mcfilter: fixture('mcfilter'), mcfilter6: fixture('mcfilter6') };

function group(parsed: ReturnType<typeof parseMemberships>, ifname: string, g: string): KernelGroup | undefined {
  return parsed.interfaces.find((i) => i.name === ifname)?.groups.find((x) => x.group === g);
}

describe('parseMemberships (real /proc content)', () => {
  const parsed = parseMemberships(texts, true);

  it('lists every interface with its index, name and IGMP version, and skips no line', () => {
    expect(parsed.skippedLines).toBe(0);
    expect(parsed.interfaces.map((i) => [i.index, i.name, i.igmpVersion])).toEqual([
      [1, 'lo', 3],
      [2, 'mcfx0p', 3],
      [3, 'mcfx0', 3],
      [4, 'mcfx1p', 3],
      [5, 'mcfx1', 2],
    ]);
  });

  it('reads IPv4 groups (native-endian hex), users, and the kernel\'s own link-local groups', () => {
    const names = parsed.interfaces.find((i) => i.name === 'mcfx0')?.groups.filter((g) => g.family === 'IPv4').map((g) => g.group);
    expect(names?.sort()).toEqual(['224.0.0.1', '232.1.1.1', '239.1.2.3']);
    expect(group(parsed, 'mcfx0', '239.1.2.3')).toMatchObject({ users: 2, linkLocal: false, ownSockets: 0 });
    expect(group(parsed, 'mcfx0', '224.0.0.1')).toMatchObject({ users: 1, linkLocal: true });
  });

  it('tells a source-specific join (INCLUDE, its sources) from an any-source one with a blocked source (EXCLUDE)', () => {
    expect(group(parsed, 'mcfx0', '232.1.1.1')).toMatchObject({ filterMode: 'include', sources: ['10.99.0.7', '10.99.0.8'] });
    expect(group(parsed, 'mcfx0', '239.1.2.3')).toMatchObject({
      filterMode: 'exclude',
      sources: ['10.99.0.8'],
      sourceCounts: [{ source: '10.99.0.8', include: 0, exclude: 1 }],
    });
    expect(group(parsed, 'mcfx0', '224.0.0.1')).toMatchObject({ filterMode: 'exclude', sources: [] });
  });

  it('reads IPv6 groups and sources, compressed', () => {
    expect(group(parsed, 'mcfx0', 'ff3e::1')).toMatchObject({ family: 'IPv6', filterMode: 'include', sources: ['fd99::7', 'fd99::8'] });
    expect(group(parsed, 'mcfx1', 'ff1e::1235')).toMatchObject({ users: 2, filterMode: 'exclude', sources: ['fd99:1::8'] });
    expect(group(parsed, 'mcfx0', 'ff02::1')).toMatchObject({ linkLocal: true });
  });

  it('reads big-endian hosts\' /proc/net/igmp too (the group is a native-endian u32)', () => {
    const be = parseMemberships({ igmp: 'Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n3\teth1      :     1      V2\n\t\t\t\tEF010203     1 0:00000000\t\t0\n' }, false);
    expect(be.interfaces).toEqual([expect.objectContaining({ name: 'eth1', index: 3, igmpVersion: 2, groups: [expect.objectContaining({ group: '239.1.2.3' })] })]);
  });

  it('skips bad or unexpected lines without throwing, and counts them', () => {
    const bad = parseMemberships({
      igmp: `${texts.igmp}garbage line\n\t\t\t\tZZZZZZZZ 1 0:0 0\n7\tweird : x V9\n`,
      igmp6: `${texts.igmp6}1 lo nothex 1 0 0\n\u0000\n`,
      mcfilter: `${texts.mcfilter}  3  mcfx0 0xe8010101\n`,
      mcfilter6: 'not a header\n',
    });
    expect(bad.skippedLines).toBe(7);
    expect(group(bad, 'mcfx0', '232.1.1.1')?.sources).toEqual(['10.99.0.7', '10.99.0.8']);
    expect(parseMemberships({}).interfaces).toEqual([]);
    expect(() => parseMemberships({ igmp: '\n\n', igmp6: '', mcfilter: 'Idx\n', mcfilter6: '   ' })).not.toThrow();
  });
});

describe('memberships() in a namespace', () => {
  let net: Topology;
  let host: Host;
  let link: Link;
  let a: Agent;
  let b: Agent;

  beforeAll(async () => {
    net = await Topology.create('mb', { autoDestroy: false });
    host = await net.host('h');
    const peer = await net.host('p');
    link = await net.link(host, net.ifname('h'), peer, net.ifname('p'), { selfAddr: '10.98.0.1/24', peerAddr: '10.98.0.2/24', selfAddr6: 'fd98::1/64' });
    [a, b] = await Promise.all([Agent.start(host), Agent.start(host)]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await net?.destroy();
  });

  it('lists what the host joined, per interface, and marks this process\'s own sockets', async () => {
    const ifname = link.self.ifname;
    await a.open('x', { port: 44001 });
    await a.join('x', '239.98.0.1', { interface: ifname });
    await a.open('y', { port: 44001 });
    await a.join('y', '232.98.0.1', { interface: link.self.ifindex, source: '10.98.0.2' });
    await a.open('z', { family: 6, port: 44001 });
    await a.join('z', 'ff1e::98:1', { interface: ifname });
    await b.open('w', { port: 44001 });
    await b.join('w', '239.98.0.1', { interface: ifname });
    await b.join('w', '239.98.0.2', { interface: ifname });
    await b.blockSource('w', '239.98.0.2', '10.98.0.2', { interface: ifname });

    type Ifs = Array<{ name: string; index: number; igmpVersion?: number; groups: KernelGroup[] }>;
    const fromA = (await a.eval('memberships')) as Ifs;
    const mine = fromA.find((i) => i.name === ifname);
    expect(mine).toMatchObject({ index: link.self.ifindex, igmpVersion: 3 });
    const g = (name: string): KernelGroup | undefined => mine?.groups.find((x) => x.group === name);
    expect(g('239.98.0.1')).toMatchObject({ users: 2, filterMode: 'exclude', sources: [], ownSockets: 1 });
    expect(g('232.98.0.1')).toMatchObject({ users: 1, filterMode: 'include', sources: ['10.98.0.2'], ownSockets: 1 });
    expect(g('ff1e::98:1')).toMatchObject({ family: 'IPv6', ownSockets: 1 });
    expect(g('239.98.0.2')).toMatchObject({ filterMode: 'exclude', sources: ['10.98.0.2'], ownSockets: 0 });

    await a.leave('x', '239.98.0.1', { interface: ifname });
    const after = ((await a.eval('memberships')) as Ifs).find((i) => i.name === ifname);
    expect(after?.groups.find((x) => x.group === '239.98.0.1')).toMatchObject({ users: 1, ownSockets: 0 });
    await a.call({ op: 'close', id: 'y' });
    const closed = ((await a.eval('memberships')) as Ifs).find((i) => i.name === ifname);
    expect(closed?.groups.find((x) => x.group === '232.98.0.1')).toBeUndefined();
  });

  it('shows the IGMP version an interface was forced to, and warns once when a source-specific join cannot be told to the network', async () => {
    const ifname = link.self.ifname;
    await host.sysctl(`net.ipv4.conf.${ifname}.force_igmp_version`, 2);
    const versions = (await a.eval('multicastVersions', [ifname, 2])) as Record<string, unknown>;
    expect(versions).toMatchObject({ igmpVersion: 2, igmpForced: 2, olderQuerier: false });
    await a.open('v', { port: 44002 });
    await a.join('v', '232.98.0.9', { interface: ifname, source: '10.98.0.2' });
    await a.join('v', '232.98.0.10', { interface: ifname, source: '10.98.0.2' });
    const ifs = (await a.eval('memberships')) as Array<{ name: string; igmpVersion?: number }>;
    expect(ifs.find((i) => i.name === ifname)?.igmpVersion).toBe(2);
    const warnings = ((await a.call({ op: 'warnings' })).warnings as Array<{ code: string; message: string }>).filter(
      (w) => w.code === 'MCAST_NO_SOURCE_FILTERING',
    );
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.message).toContain(`${ifname} speaks IGMPv2`);
    await host.sysctl(`net.ipv4.conf.${ifname}.force_igmp_version`, 0);
  });

  it('mcast ifaces --memberships lists the groups per interface; mcast ifaces shows the IGMP version and why', async () => {
    const ifname = link.self.ifname;
    const r = await mcast(host, ['ifaces', '--memberships']);
    expect(r.code).toBe(0);
    const rows = r.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^INDEX\s+NAME\s+IGMP\s+GROUP\s+MODE\s+SOURCES\s+USERS$/);
    expect(rows).toContainEqual(expect.stringMatching(new RegExp(`^${link.self.ifindex}\\s+${ifname}\\s+v3\\s+239\\.98\\.0\\.2\\s+exclude\\s+10\\.98\\.0\\.2\\s+1$`)));
    expect(rows).toContainEqual(expect.stringMatching(new RegExp(`^${link.self.ifindex}\\s+${ifname}\\s+ff1e::98:1\\s+exclude\\s+-\\s+1$`)));
    // The kernel's own link-local groups only with --all.
    expect(r.stdout).not.toContain('224.0.0.1 ');
    expect((await mcast(host, ['ifaces', '--memberships', '--all'])).stdout).toContain('224.0.0.1 ');
    const json = JSON.parse((await mcast(host, ['ifaces', '--memberships', '--json'])).stdout) as Array<{ name: string; groups: KernelGroup[] }>;
    expect(json.find((i) => i.name === ifname)?.groups.map((g) => g.group)).toContain('232.98.0.9');

    const igmpOf = async (): Promise<string | undefined> =>
      (await mcast(host, ['ifaces'])).stdout.split('\n').find((l) => l.includes(` ${ifname} `))?.split(/\s+/)[3];
    expect(await igmpOf()).toBe('v3');
    await host.sysctl(`net.ipv4.conf.${ifname}.force_igmp_version`, 2);
    expect(await igmpOf()).toBe('v2');
    expect((await mcast(host, ['ifaces'])).stdout).toMatch(new RegExp(`${ifname}\\s+up,multicast\\s+v2 forced\\s+v2\\s`));
    await host.sysctl(`net.ipv4.conf.${ifname}.force_igmp_version`, 0);
    // An IGMPv2 querier on the link (an 8-byte query from the peer) makes the kernel fall back.
    await link.peer.host.python(
      `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IGMP)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('10.98.0.2'))
q = bytes([0x11, 100, 0, 0, 0, 0, 0, 0])
c = sum((q[i] << 8) + q[i + 1] for i in range(0, 8, 2)); c = (c >> 16) + (c & 0xffff); c = ~c & 0xffff
s.sendto(q[:2] + bytes([c >> 8, c & 0xff]) + q[4:], ('224.0.0.1', 0))`,
      [],
      { check: true },
    );
    let line = '';
    for (let i = 0; i < 50 && !line.includes('v2 querier'); i++) {
      line = (await mcast(host, ['ifaces'])).stdout.split('\n').find((l) => l.includes(` ${ifname} `)) ?? '';
      if (!line.includes('v2 querier')) await new Promise((res) => setTimeout(res, 100));
    }
    expect(line).toMatch(new RegExp(`${ifname}\\s+up,multicast\\s+v2 querier\\s+v2\\s`));
    const ifs = JSON.parse((await mcast(host, ['ifaces', '--json'])).stdout) as Array<{ name: string; igmp: Record<string, unknown> }>;
    expect(ifs.find((i) => i.name === ifname)?.igmp).toEqual({ version: 2, forced: 0, olderQuerier: true });
  });
});
