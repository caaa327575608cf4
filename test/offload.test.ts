/**
 * Segmentation offload on send (UDP_SEGMENT, SocketOptions.gso) and receive coalescing
 * (UDP_GRO, SocketOptions.gro). On `lo` a GSO message travels intact (lo never segments), so a
 * plain receiver gets it split by the kernel and a `gro: true` receiver gets it merged, which
 * mcast splits again. On a veth pair the sender's end segments in software
 * (tx-udp-segmentation off) or "in the device" (on); tcpdump on the peer's end and a Python
 * receiver there show separate datagrams of the right sizes either way. Refusals (no checksum
 * offload: EIO; a segment larger than the MTU: EINVAL) make the socket fall back to sendmmsg
 * without losing or repeating a datagram.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { constants, type MessageInfo, type RecvBatch, type Socket } from '../lib/index.js';
import { captureAvailable, type Host, type Link, Topology } from './harness/netns.js';
import { settle, socketFactory, uniquePort, waitFor } from './helpers.js';
import { PY_SIZES, spawnIn, until } from './wire-helpers.js';

const run = promisify(execFile);

const socket = socketFactory();
const C = constants as Record<string, number>;
/** SO_NO_CHECK (asm-generic/socket.h): no UDP checksum on send, which UDP_SEGMENT refuses. */
const SO_NO_CHECK = 11;
const GROUP = '239.77.1.1';

/** Datagram i of a test stream: `size` bytes, each the low byte of i (so every byte is checked). */
function datagram(i: number, size: number): Buffer {
  return Buffer.alloc(size, i & 0xff);
}

/** Sizes with runs of equal sizes, shorter last datagrams, a lone one and an empty one. */
const MIXED = [
  ...Array<number>(40).fill(1316), 700, ...Array<number>(30).fill(1316), ...Array<number>(10).fill(64), 1316, 0, 200, 200, 199,
];

function expectStream(got: readonly Buffer[], sizes: readonly number[]): void {
  expect(got.map((d) => d.length)).toEqual(sizes);
  got.forEach((d, i) => expect(d.equals(datagram(i, sizes[i]!))).toBe(true));
}

/** A receiver on lo for GROUP (joined on lo), with room for bursts. */
function loReceiver(port: number, options: Parameters<typeof socket>[0] = {}): Socket {
  const rx = socket({ port, recvBufferSize: 4 << 20, ...options });
  rx.join(GROUP, { interface: 'lo' });
  return rx;
}

function loSender(options: Parameters<typeof socket>[0] = {}): Socket {
  return socket({ interface: 'lo', ttl: 0, ...options });
}

describe('Socket#sendBatch() with segmentation offload (gso)', () => {
  it('sends each run of one size as one UDP_SEGMENT message; a plain receiver gets every datagram as sent', async () => {
    const port = uniquePort();
    const rx = loReceiver(port);
    const got: Buffer[] = [];
    rx.on('message', (d) => got.push(d));
    const tx = loSender();
    const sent = tx.sendBatch(MIXED.map((n, i) => datagram(i, n)), GROUP, port);
    expect(sent).toBe(MIXED.length);
    await waitFor(() => got.length >= MIXED.length, 'the datagrams');
    await settle(50);
    expectStream(got, MIXED);
    const s = tx.stats();
    // Runs: 40×1316 + 700 | 30×1316 + 64 (a shorter one ends a run) | 9×64 | 1316 alone (a
    // larger one starts a new run) | 0 alone | 200, 200, 199: four UDP_SEGMENT messages.
    expect(s.segmentedSends).toBe(4);
    expect(s.segmentationFallbacks).toBe(0);
    expect(s.packetsSent).toBe(MIXED.length);
    expect(s.bytesSent).toBe(MIXED.reduce((a, b) => a + b, 0));
  });

  it('keeps each message within 64 KiB: 200 datagrams of 1316 bytes take five messages', async () => {
    const port = uniquePort();
    const rx = loReceiver(port);
    let count = 0;
    rx.on('message', () => count++);
    const tx = loSender();
    // 49 × 1316 = 64484 bytes fit in one message, 50 would not: ceil(200 / 49) = 5.
    expect(tx.sendBatch(Array.from({ length: 200 }, (_, i) => datagram(i, 1316)), GROUP, port)).toBe(200);
    await waitFor(() => count >= 200, '200 datagrams');
    expect(tx.stats().segmentedSends).toBe(5);
  });

  it('with gso: false sends every datagram on its own', async () => {
    const port = uniquePort();
    const rx = loReceiver(port);
    const got: Buffer[] = [];
    rx.on('message', (d) => got.push(d));
    const tx = loSender({ gso: false });
    expect(tx.sendBatch(MIXED.map((n, i) => datagram(i, n)), GROUP, port)).toBe(MIXED.length);
    await waitFor(() => got.length >= MIXED.length, 'the datagrams');
    expectStream(got, MIXED);
    expect(tx.stats().segmentedSends).toBe(0);
  });

  it('sendAll() segments too, and counts datagrams accepted', async () => {
    const port = uniquePort();
    const rx = loReceiver(port);
    let count = 0;
    rx.on('message', () => count++);
    const tx = loSender();
    expect(await tx.sendAll(Array.from({ length: 100 }, (_, i) => datagram(i, 512)), GROUP, port)).toBe(100);
    await waitFor(() => count >= 100, '100 datagrams');
    expect(tx.stats().segmentedSends).toBeGreaterThanOrEqual(1);
  });

  it('rejects a non-boolean gso option', () => {
    expect(() => socket({ gso: 1 as unknown as boolean })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('Socket option gro', () => {
  it('splits merged receives into the datagrams sent, each with its own offset and size and the shared metadata', async () => {
    const port = uniquePort();
    const rx = loReceiver(port, { gro: true });
    const seen: { size: number; offset: number; bytes: Buffer; address: string; port: number; destination: string; ifindex: number }[] = [];
    rx.on('batch', (b: RecvBatch) => {
      for (let i = 0; i < b.count; i++) {
        seen.push({
          size: b.size(i),
          offset: b.offset(i),
          bytes: Buffer.from(b.data(i)),
          address: b.address(i),
          port: b.port(i),
          destination: b.destination(i),
          ifindex: b.interfaceIndex(i),
        });
      }
    });
    const tx = loSender();
    const txPort = tx.address().port;
    const sizes = [...Array<number>(20).fill(1000), 999, ...Array<number>(5).fill(100)];
    expect(tx.sendBatch(sizes.map((n, i) => datagram(i, n)), GROUP, port)).toBe(sizes.length);
    await waitFor(() => seen.length >= sizes.length, 'the datagrams');
    await settle(50);
    expectStream(
      seen.map((s) => s.bytes),
      sizes,
    );
    // The first run arrived as one receive: its datagrams sit back to back in one slot.
    for (let i = 1; i <= 20; i++) expect(seen[i]!.offset).toBe(seen[0]!.offset + i * 1000);
    for (const s of seen) {
      expect(s).toMatchObject({ address: '127.0.0.1', port: txPort, destination: GROUP, ifindex: 1 });
    }
    const st = rx.stats();
    expect(st.groReceives).toBe(2);
    expect(st.groDatagrams).toBe(sizes.length);
    expect(st.packetsReceived).toBe(sizes.length);
    expect(st.bytesReceived).toBe(sizes.reduce((a, b) => a + b, 0));
  });

  it("gives 'message' listeners plain datagrams, each with its own info", async () => {
    const port = uniquePort();
    const rx = loReceiver(port, { gro: true });
    const got: { data: Buffer; info: MessageInfo }[] = [];
    rx.on('message', (data, info) => got.push({ data, info }));
    const tx = loSender();
    const sizes = [...Array<number>(30).fill(1316), 10];
    tx.sendBatch(sizes.map((n, i) => datagram(i, n)), GROUP, port);
    await waitFor(() => got.length >= sizes.length, 'the datagrams');
    expectStream(
      got.map((g) => g.data),
      sizes,
    );
    got.forEach((g, i) => expect(g.info).toMatchObject({ size: sizes[i], originalSize: sizes[i], truncated: false, destination: GROUP }));
    expect(rx.stats().groReceives).toBe(1);
  });

  it('keeps maxMessageSize, truncation and its counter per datagram', async () => {
    const port = uniquePort();
    const rx = loReceiver(port, { gro: true, maxMessageSize: 600 });
    const got: { data: Buffer; info: MessageInfo }[] = [];
    rx.on('message', (data, info) => got.push({ data, info }));
    const tx = loSender();
    const sizes = [1000, 1000, 1000, 500];
    tx.sendBatch(sizes.map((n, i) => datagram(i, n)), GROUP, port);
    await waitFor(() => got.length >= 4, 'the datagrams');
    expect(got.map((g) => [g.info.size, g.info.originalSize, g.info.truncated])).toEqual([
      [600, 1000, true],
      [600, 1000, true],
      [600, 1000, true],
      [500, 500, false],
    ]);
    got.forEach((g, i) => expect(g.data.equals(datagram(i, Math.min(600, sizes[i]!)))).toBe(true));
    expect(rx.stats()).toMatchObject({ truncated: 3, bytesReceived: 2300, groDatagrams: 4 });
  });

  it('receives plain datagrams unchanged (nothing merged)', async () => {
    const port = uniquePort();
    const rx = loReceiver(port, { gro: true });
    const got: Buffer[] = [];
    rx.on('message', (d) => got.push(d));
    const tx = loSender({ gso: false });
    tx.sendBatch(MIXED.map((n, i) => datagram(i, n)), GROUP, port);
    await waitFor(() => got.length >= MIXED.length, 'the datagrams');
    expectStream(got, MIXED);
    expect(rx.stats().groReceives).toBe(0);
  });

  it('gets exactly what a Python UDP_SEGMENT sender sent: every byte and every boundary', async () => {
    const port = uniquePort();
    const rx = loReceiver(port, { gro: true });
    const got: Buffer[] = [];
    rx.on('message', (d) => got.push(d));
    // Python's socket module sends one 40 × 1200 + 333 byte message with UDP_SEGMENT = 1200.
    const py = `
import socket, struct, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('127.0.0.1'))
sizes = [1200] * 40 + [333]
payload = b''.join(bytes([i & 0xff]) * n for i, n in enumerate(sizes))
s.sendmsg([payload], [(17, 103, struct.pack('H', 1200))], 0, ('${GROUP}', port))
`;
    await run('python3', ['-c', py, String(port)]);
    await waitFor(() => got.length >= 41, 'the datagrams');
    expectStream(got, [...Array<number>(40).fill(1200), 333]);
    expect(rx.stats()).toMatchObject({ groReceives: 1, groDatagrams: 41 });
  });

  it('gets every iperf 2 datagram whole at a fixed size', async () => {
    const port = uniquePort();
    const rx = loReceiver(port, { gro: true });
    const sizes: number[] = [];
    const seqs: number[] = [];
    rx.on('message', (d) => {
      sizes.push(d.length);
      seqs.push(d.readInt32BE(0)); // iperf 2's datagram id
    });
    await run('iperf', ['-c', GROUP, '-u', '-p', String(port), '-l', '1316', '-n', String(1316 * 300), '-b', '50M', '-T', '0', '-B', '127.0.0.1']);
    await waitFor(() => seqs.includes(-seqs.length) || sizes.length >= 300, 'the iperf datagrams');
    await settle(100);
    const data = sizes.filter((_, i) => seqs[i]! >= 0);
    expect(data.length).toBe(300);
    expect(new Set(data)).toEqual(new Set([1316]));
    const ids = seqs.filter((s) => s >= 0);
    expect(ids).toEqual(Array.from({ length: 300 }, (_, i) => ids[0]! + i));
  });

  it('rejects a non-boolean gro option', () => {
    expect(() => socket({ gro: 'yes' as unknown as boolean })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

/** Whether the socket asks the kernel for IP_PKTINFO now. */
function pktinfoOn(sock: Socket): boolean {
  return sock.getOption(C.IPPROTO_IP!, C.IP_PKTINFO!).readInt32LE(0) !== 0;
}

describe('IP_PKTINFO only where the socket needs it', () => {
  it('is off for a socket bound to its one group joined on one interface; destination and interface stay right', async () => {
    const port = uniquePort();
    const rx = socket({ port, address: GROUP });
    expect(pktinfoOn(rx)).toBe(true); // nothing joined yet
    rx.join(GROUP, { interface: 'lo' });
    expect(pktinfoOn(rx)).toBe(false);
    const got: MessageInfo[] = [];
    const fromBatch: [string, number][] = [];
    rx.on('batch', (b: RecvBatch) => {
      for (let i = 0; i < b.count; i++) fromBatch.push([b.destination(i), b.interfaceIndex(i)]);
    });
    rx.on('message', (_d, info) => got.push(info));
    loSender().sendBatch([datagram(0, 10), datagram(1, 20)], GROUP, port);
    await waitFor(() => got.length >= 2, 'two datagrams');
    for (const info of got) expect(info).toMatchObject({ destination: GROUP, interfaceIndex: 1 });
    expect(fromBatch).toEqual([
      [GROUP, 1],
      [GROUP, 1],
    ]);
  });

  it('stays on for a wildcard-bound socket', async () => {
    const port = uniquePort();
    const rx = socket({ port });
    rx.join(GROUP, { interface: 'lo' });
    expect(pktinfoOn(rx)).toBe(true);
    const got: MessageInfo[] = [];
    rx.on('message', (_d, info) => got.push(info));
    loSender().send('x', GROUP, port);
    await waitFor(() => got.length >= 1, 'a datagram');
    expect(got[0]).toMatchObject({ destination: GROUP, interfaceIndex: 1 });
  });

  it('stays on with multicastAll, and comes back on when multicastAll is turned on', () => {
    const a = socket({ port: uniquePort(), address: GROUP, multicastAll: true });
    a.join(GROUP, { interface: 'lo' });
    expect(pktinfoOn(a)).toBe(true);
    const b = socket({ port: uniquePort(), address: GROUP });
    b.join(GROUP, { interface: 'lo' });
    expect(pktinfoOn(b)).toBe(false);
    b.setMulticastAll(true);
    expect(pktinfoOn(b)).toBe(true);
    b.setMulticastAll(false);
    expect(pktinfoOn(b)).toBe(true); // for good: the elision happens once per socket
  });

  it('stays off for more sources of the same (group, interface)', () => {
    const rx = socket({ port: uniquePort(), address: '232.77.1.1' });
    rx.join('232.77.1.1', { interface: 'lo', source: '127.0.0.1' });
    rx.join('232.77.1.1', { interface: 'lo', source: '127.0.0.2' });
    expect(pktinfoOn(rx)).toBe(false);
  });

  it('IPv6 always asks for IPV6_PKTINFO (its interface filter needs it)', () => {
    const rx = socket({ family: 6, port: uniquePort(), address: 'ff15::77:1' });
    rx.join('ff15::77:1', { interface: 'lo' });
    expect(rx.getOption(C.IPPROTO_IPV6!, C.IPV6_RECVPKTINFO!).readInt32LE(0)).toBe(1);
  });
});

describe('UDP_SEGMENT on the wire (veth)', () => {
  let net: Topology;
  let peer: Host;
  let link: Link;
  const SELF = '10.77.1.1';
  const PEER = '10.77.1.2';

  beforeAll(async () => {
    net = await Topology.create('gs', { autoDestroy: false });
    peer = await net.host('p');
    link = await net.link(net.self, net.ifname('s'), peer, net.ifname('p'), { selfAddr: `${SELF}/24`, peerAddr: `${PEER}/24` });
  });
  afterAll(async () => {
    await net?.destroy();
  });

  async function ethtool(feature: string, on: boolean): Promise<void> {
    await net.self.exec(['ethtool', '-K', link.self.ifname, feature, on ? 'on' : 'off'], { check: true });
  }

  /** Sends `sizes` through the veth; returns what the Python peer got and the first `wirePackets` tcpdump saw. */
  async function sendThrough(sizes: readonly number[], wirePackets: number, prepare?: (tx: Socket) => void) {
    const port = uniquePort();
    // tcpdump ends on its own after `wirePackets` (its output is complete then) or 8 s.
    const capture = captureAvailable()
      ? await net.capture(link.peer, `udp and dst port ${port}`, { verbosity: 1, count: wirePackets, timeoutMs: 8000 })
      : undefined;
    const recv = spawnIn(peer, ['python3', '-c', PY_SIZES, GROUP, String(port), PEER, String(sizes.length), '8']);
    await until(() => recv.stdout.includes('ready'), 'the Python receiver');
    const tx = socket({ interface: SELF });
    prepare?.(tx);
    const sent = tx.sendBatch(sizes.map((n, i) => datagram(i, n)), GROUP, port);
    await recv.wait(10_000);
    const lines = recv.lines.filter((l) => /^\d+ /.test(l));
    const captured = capture ? await capture.done() : undefined;
    // A capture that lost packets itself (a loaded machine) proves nothing about the wire.
    const captureDrops = Number(/(\d+) packets? dropped by kernel/.exec(captured?.stderr ?? '')?.[1] ?? 0);
    const wire = captured && captureDrops === 0 ? captured.packets.map((p) => p.udpLength) : undefined;
    return { sent, stats: tx.stats(), got: lines.map((l) => l.split(' ')), wire };
  }

  const SIZES = [...Array<number>(30).fill(1316), 500, ...Array<number>(8).fill(64)];
  const expectSeparate = (got: string[][]): void => {
    expect(got.map((g) => Number(g[0])), 'the sizes the Python receiver got').toEqual(SIZES);
    expect(got.map((g) => Number(g[1]))).toEqual(SIZES.map((_, i) => i & 0xff));
    expect(got.every((g) => g[2] === 'ok')).toBe(true);
  };

  it('reaches a Python receiver as separate datagrams with segmentation in software (tx-udp-segmentation off)', async () => {
    await ethtool('tx-udp-segmentation', false);
    const { sent, stats, got, wire } = await sendThrough(SIZES, SIZES.length);
    expect(sent).toBe(SIZES.length);
    expect(stats).toMatchObject({ segmentedSends: 2, segmentationFallbacks: 0 });
    expectSeparate(got);
    // The sender's end cut the two messages: the wire carries each datagram on its own.
    if (wire !== undefined) expect(wire, 'the UDP lengths tcpdump saw').toEqual(SIZES);
  });

  it('reaches a Python receiver as separate datagrams with segmentation by the device (tx-udp-segmentation on)', async () => {
    await ethtool('tx-udp-segmentation', true);
    const { sent, stats, got, wire } = await sendThrough(SIZES, 2);
    expect(sent).toBe(SIZES.length);
    expect(stats).toMatchObject({ segmentedSends: 2, segmentationFallbacks: 0 });
    expectSeparate(got);
    // The "device" (veth) took both messages whole, as a NIC with USO does, and handed them to
    // the peer as such: the peer's stack cut them for the receiver.
    if (wire !== undefined) expect(wire).toEqual([30 * 1316 + 500, 8 * 64]);
  });

  it('falls back to sendmmsg for good where the socket cannot segment (SO_NO_CHECK: EINVAL), losing and repeating nothing', async () => {
    const { sent, stats, got } = await sendThrough(SIZES, SIZES.length, (tx) => tx.setOption(C.SOL_SOCKET!, SO_NO_CHECK, 1));
    expect(sent).toBe(SIZES.length);
    expect(stats).toMatchObject({ segmentedSends: 0, segmentationFallbacks: 1, packetsSent: SIZES.length });
    expectSeparate(got);
  });

  it('sends datagrams larger than the MTU alone (EMSGSIZE taught the limit), fragmented, and segments the rest', async () => {
    const sizes = [2000, 2000, 2000];
    const port = uniquePort();
    const recv = spawnIn(peer, ['python3', '-c', PY_SIZES, GROUP, String(port), PEER, '3', '8']);
    await until(() => recv.stdout.includes('ready'), 'the Python receiver');
    const tx = socket({ interface: SELF });
    expect(tx.sendBatch(sizes.map((n, i) => datagram(i, n)), GROUP, port)).toBe(3);
    await recv.wait(10_000);
    const lines = recv.lines.filter((l) => /^\d+ /.test(l));
    expect(lines).toEqual(['2000 0 ok', '2000 1 ok', '2000 2 ok']);
    expect(tx.stats()).toMatchObject({ segmentedSends: 0, segmentationFallbacks: 0, packetsSent: 3 });
    // Smaller datagrams still leave segmented.
    tx.sendBatch([datagram(0, 100), datagram(0, 100)], GROUP, port);
    expect(tx.stats()).toMatchObject({ segmentedSends: 1, segmentationFallbacks: 0, packetsSent: 5 });
  });
  it('IP_PKTINFO comes back on before a second (group, interface) join; every datagram keeps its interface', async () => {
    const port = uniquePort();
    const rx = socket({ port, address: GROUP, recvBufferSize: 1 << 20 });
    rx.join(GROUP, { interface: 'lo' });
    expect(pktinfoOn(rx)).toBe(false);
    // Queued while IP_PKTINFO is off (no listener yet), read after it is back on: the kernel
    // then reports interface 0 for them, and the known one is filled in.
    const lo = loSender();
    lo.sendBatch([datagram(0, 30), datagram(1, 30)], GROUP, port);
    await settle(50);
    rx.join(GROUP, { interface: link.self.ifname });
    expect(pktinfoOn(rx)).toBe(true);
    const got: [number, string, number][] = [];
    rx.on('message', (d, info) => got.push([d[0]!, info.destination, info.interfaceIndex]));
    await waitFor(() => got.length >= 2, 'the queued datagrams');
    const py = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton('${PEER}'))
s.sendto(bytes([7]) * 30, ('${GROUP}', int(sys.argv[1])))
`;
    expect((await peer.python(py, [String(port)])).code).toBe(0);
    await waitFor(() => got.length >= 3, 'the datagram from the peer');
    lo.send(datagram(9, 30), GROUP, port);
    await waitFor(() => got.length >= 4, 'the datagram on lo');
    expect(got).toEqual([
      [0, GROUP, 1],
      [1, GROUP, 1],
      [7, GROUP, link.self.ifindex],
      [9, GROUP, 1],
    ]);
  });
});
