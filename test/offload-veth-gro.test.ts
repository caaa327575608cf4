/**
 * GRO on a link that coalesces, as the drain-gro-veth benchmark case makes it: a veth pair
 * whose receiving end has GRO on (veth then runs a NAPI of its own) and holds GRO across polls
 * (gro_flush_timeout with napi_defer_hard_irqs, like a NIC's interrupt moderation), the sending
 * end TSO off. A foreign sender (Python, plain sendto, no UDP_SEGMENT) in another namespace:
 * the kernel merges its datagrams on the way in, and a `gro: true` socket must still get
 * exactly what was sent, every byte and every boundary, at a constant size (merged: stats say
 * so) and at varying sizes (where GRO merges only runs of one size and a shorter last one).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Host, type Link, Topology } from './harness/netns.js';
import { settle, socketFactory, uniquePort, waitFor } from './helpers.js';

const socket = socketFactory();
const GROUP = '239.77.4.1';
const SELF = '10.77.4.1';
const PEER = '10.77.4.2';

/** Sends datagram i of sizes[i] bytes: u32 i (big endian), then the low byte of i. */
const PY_SEND = `
import socket, struct, sys
group, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sizes = [int(n) for n in sys.argv[4].split(',')]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(src))
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
for i, n in enumerate(sizes):
    s.sendto((struct.pack('!I', i) + bytes([i & 0xff]) * n)[:n], (group, port))
`;

function expected(i: number, n: number): Buffer {
  const b = Buffer.alloc(Math.max(n, 4), i & 0xff);
  b.writeUInt32BE(i, 0);
  return b.subarray(0, n);
}

describe('gro: true on a veth pair that coalesces', () => {
  let net: Topology;
  let peer: Host;
  let link: Link;

  beforeAll(async () => {
    net = await Topology.create('gv', { autoDestroy: false });
    peer = await net.host('p');
    link = await net.link(net.self, net.ifname('s'), peer, net.ifname('p'), { selfAddr: `${SELF}/24`, peerAddr: `${PEER}/24` });
    await net.self.exec(['ethtool', '-K', link.self.ifname, 'gro', 'on'], { check: true });
    await peer.exec(['ethtool', '-K', link.peer.ifname, 'tso', 'off'], { check: true });
    const sys = `/sys/class/net/${link.self.ifname}`;
    await net.self.exec(['sh', '-c', `echo 50000 > ${sys}/gro_flush_timeout && echo 1 > ${sys}/napi_defer_hard_irqs`], { check: true });
  });
  afterAll(async () => {
    await net?.destroy();
  });

  async function receive(sizes: readonly number[]) {
    const port = uniquePort();
    const rx = socket({ port, gro: true, recvBufferSize: 4 << 20 });
    rx.join(GROUP, { interface: link.self.ifname });
    const got: Buffer[] = [];
    rx.on('message', (d) => got.push(Buffer.from(d)));
    await peer.exec(['python3', '-c', PY_SEND, GROUP, String(port), PEER, sizes.join(',')], { check: true });
    await waitFor(() => got.length >= sizes.length, `${sizes.length} datagrams`);
    await settle(50);
    return { got, stats: rx.stats() };
  }

  it('merges a constant-size stream on the way in, and splits it back exactly', async () => {
    const sizes = Array<number>(400).fill(1000);
    const { got, stats } = await receive(sizes);
    expect(got.map((d) => d.length)).toEqual(sizes);
    got.forEach((d, i) => expect(d.equals(expected(i, sizes[i]!)), `datagram ${i}`).toBe(true));
    // The link coalesced: some receives held several datagrams (how many depends on timing).
    expect(stats.groReceives).toBeGreaterThan(0);
    expect(stats.groDatagrams).toBeGreaterThan(stats.groReceives);
    expect(stats.packetsReceived).toBe(400);
  });

  it('gets varying sizes exactly: runs of one size merge, a shorter one ends its run', async () => {
    // Runs of equal sizes, each followed by a shorter one, then sizes that change every time.
    const sizes = [
      ...Array<number>(20).fill(900), 300, ...Array<number>(15).fill(1200), 1199, 1201, 64,
      ...Array.from({ length: 200 }, (_, i) => 100 + ((i * 7919) % 1300)),
    ];
    const { got, stats } = await receive(sizes);
    expect(got.map((d) => d.length)).toEqual(sizes);
    got.forEach((d, i) => expect(d.equals(expected(i, sizes[i]!)), `datagram ${i}`).toBe(true));
    expect(stats.packetsReceived).toBe(sizes.length);
    expect(stats.truncated).toBe(0);
  });
});
