/**
 * Interoperability with programs we did not write, both ways, across a veth link between this
 * process's namespace H and a peer PA: Python's socket module (the classic IP_ADD_MEMBERSHIP
 * receiver and a plain sender), socat (UDP4-RECV with ip-add-membership, UDP4-DATAGRAM with
 * ip-multicast-if), iperf 2 in multicast mode, and mcfirst (ssmping) for an SSM join.
 * Peers' readiness is read on the wire: their IGMP report, not a sleep.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { createSocket, type MessageInfo, type Socket } from '../lib/index.js';
import { type Capture, type Host, type Link, Topology } from './harness/netns.js';
import { uniquePort } from './helpers.js';
import { PY_RECV, PY_SEND, reportFor, spawnIn, spawnMcast, until } from './wire-helpers.js';

let net: Topology;
let pa: Host;
let link: Link;
const H = '10.82.1.1';
const PA = '10.82.1.2';

beforeAll(async () => {
  net = await Topology.create('io', { autoDestroy: false });
  pa = await net.host('pa');
  link = await net.link(net.self, net.ifname('h'), pa, net.ifname('pa'), { selfAddr: `${H}/24`, peerAddr: `${PA}/24` });
});

afterAll(async () => {
  await net?.destroy();
});

const sockets: Socket[] = [];
const captures: Capture[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await Promise.all(captures.splice(0).map((c) => c.stop()));
});

/** An mcast socket of this process joined on the link to PA. */
function receiver(group: string, port: number): { socket: Socket; got: { data: Buffer; info: MessageInfo }[] } {
  const socket = createSocket({ port, receiveTTL: true }).join(group, { interface: link.self.ifname });
  sockets.push(socket);
  const got: { data: Buffer; info: MessageInfo }[] = [];
  socket.on('message', (data, info) => got.push({ data, info }));
  return { socket, got };
}

/** Captures IGMP on H's end of the link: PA's joins show up here. */
async function igmpCapture(): Promise<Capture> {
  const cap = await net.capture(link.self, 'igmp');
  captures.push(cap);
  return cap;
}

describe('Python socket (the classic example)', () => {
  it('a plain Python sender reaches `mcast recv --json`', async () => {
    const port = uniquePort();
    const group = '239.82.1.1';
    const rx = spawnMcast(net.self, ['recv', group, String(port), '--iface', link.self.ifname, '--json', '--count', '3', '--timeout', '10']);
    await rx.waitStderr('listening on');
    await pa.python(PY_SEND, ['4', group, String(port), PA, '2', '3', 'from python'], { check: true });
    expect((await rx.wait(10_000)).code).toBe(0);
    const records = rx.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records).toHaveLength(3);
    for (const r of records) {
      expect(r).toMatchObject({ from: PA, group, interface: link.self.ifname, interfaceIndex: link.self.ifindex, size: 11, ttl: 2, data: 'from python' });
    }
  });

  it('`mcast send` reaches the classic IP_ADD_MEMBERSHIP receiver, with the TTL it set', async () => {
    const port = uniquePort();
    const group = '239.82.1.2';
    const py = spawnIn(pa, ['python3', '-c', PY_RECV, group, String(port), PA, '2', '10']);
    await until(() => py.lines.includes('ready'), 'the python receiver', 5000, () => py.describe());
    const tx = spawnMcast(net.self, ['send', group, String(port), '--iface', H, '--ttl', '3']);
    tx.child.stdin?.end('first line\nsecond, with ünïcödé\n');
    expect((await tx.wait()).code).toBe(0);
    await py.wait(10_000);
    expect(py.lines).toEqual(['ready', `${H} 3 first line`, `${H} 3 second, with ünïcödé`]);
  });
});

describe('socat', () => {
  it('socat UDP4-DATAGRAM with ip-multicast-if reaches an mcast socket', async () => {
    const port = uniquePort();
    const group = '239.82.2.1';
    const { got } = receiver(group, port);
    const r = await pa.exec(['socat', '-u', '-', `UDP4-DATAGRAM:${group}:${port},ip-multicast-if=${PA},ip-multicast-ttl=4`], {
      input: 'hello from socat\n',
    });
    expect(r.code).toBe(0);
    await until(() => got.length >= 1, 'the socat datagram');
    expect(got.map((g) => g.data.toString())).toEqual(['hello from socat\n']);
    expect(got[0]?.info).toMatchObject({ address: PA, destination: group, ttl: 4, interfaceIndex: link.self.ifindex });
  });

  it('`mcast send` reaches socat UDP4-RECV with ip-add-membership', async () => {
    const port = uniquePort();
    const group = '239.82.2.2';
    const cap = await igmpCapture();
    const socat = spawnIn(pa, ['socat', '-u', `UDP4-RECV:${port},ip-add-membership=${group}:${link.peer.ifname},reuseaddr`, '-']);
    await cap.waitFor(reportFor(group, 'CHANGE_TO_EXCLUDE'));
    const tx = spawnMcast(net.self, ['send', group, String(port), 'to socat', '--iface', link.self.ifname]);
    expect((await tx.wait()).code).toBe(0);
    // socat writes each datagram's payload as it is (no newline added).
    await until(() => socat.stdout.length >= 8, 'socat output', 5000, () => socat.describe());
    expect(socat.stdout).toBe('to socat');
  });
});

describe('iperf 2 and mcfirst', () => {
  it('an iperf 2 multicast client (-c GROUP -u -T 3) reaches an mcast socket: every datagram, in order', async () => {
    const port = uniquePort();
    const group = '239.82.3.1';
    const { got } = receiver(group, port);
    const r = await pa.exec(['iperf', '-c', group, '-u', '-p', String(port), '-T', '3', '-B', PA, '-l', '200', '-n', '2000']);
    expect(r.code).toBe(0);
    // 2000 bytes in 200-byte datagrams: sequence numbers 1..10, then a final one with a negative number.
    await until(() => got.some((g) => g.data.readInt32BE(0) < 0), 'the final iperf datagram');
    const sequence = got.map((g) => g.data.readInt32BE(0));
    expect(sequence.filter((n) => n > 0)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(sequence.filter((n) => n < 0).every((n) => n === -11)).toBe(true);
    expect(got.every((g) => g.info.size === 200 && g.info.ttl === 3 && g.info.address === PA)).toBe(true);
  });

  it('`mcast send` reaches an iperf 2 multicast server (-s -u -B GROUP%IF), which counts the datagrams', async () => {
    const port = uniquePort();
    const group = '239.82.3.2';
    const cap = await igmpCapture();
    const server = spawnIn(pa, ['iperf', '-s', '-u', '-p', String(port), '-B', `${group}%${link.peer.ifname}`, '-i', '1']);
    await cap.waitFor(reportFor(group, 'CHANGE_TO_EXCLUDE'));
    // Five 100-byte datagrams of '.' padding (iperf takes their first bytes for a sequence number).
    const lines = Array.from({ length: 5 }, () => '').join('\n');
    const tx = spawnMcast(net.self, ['send', group, String(port), '--iface', link.self.ifname, '--size', '100', '-q']);
    tx.child.stdin?.end(`${lines}\n`);
    expect((await tx.wait()).code).toBe(0);
    expect(tx.stderr).toContain('sent 5 datagrams (500 bytes)');
    const from = /from port (\d+)/.exec(tx.stderr)?.[1];
    // iperf names the sender that its group socket heard: H and mcast's source port.
    await until(() => server.stdout.includes(`connected with ${H} port ${from}`), 'the iperf server to see mcast', 5000, () => server.describe());
    expect(server.stdout).toContain(`local ${group}`);
  });

  it('mcfirst (ssmping) makes a source-specific join and hears `mcast send` from that source', async () => {
    const port = uniquePort();
    const group = '232.82.3.3';
    const cap = await igmpCapture();
    const mcfirst = spawnIn(pa, ['mcfirst', '-I', link.peer.ifname, '-c', '1', '-t', '10', H, group, String(port)]);
    const report = await cap.waitFor(reportFor(group, 'ALLOW_NEW_SOURCES'));
    expect(report.report?.records.find((r) => r.group === group)?.sources).toEqual([H]);
    const tx = spawnMcast(net.self, ['send', group, String(port), 'first!', '--iface', link.self.ifname]);
    expect((await tx.wait()).code).toBe(0);
    const end = await mcfirst.wait(10_000);
    expect(end.code).toBe(0);
    expect(mcfirst.lines[0]).toBe(`mcfirst joined (S,G) = (${H},${group})`);
    expect(mcfirst.lines[1]).toMatch(new RegExp(`^Received 6 bytes from ${H.replace(/\./g, '\\.')} after [\\d.]+ ms \\(ttl/hops 1\\)$`));
  });
});
