/**
 * bindToDevice (SO_BINDTODEVICE): a host H with two links, A and B, to two peers that both send
 * the same group to the same port. Sockets bound to device A or B (multicastAll on, so that only
 * the device keeps them apart) each receive only their own link's datagrams, and a bound socket
 * sends out of its device whatever the route says (tcpdump on both links). With VRFs (when the
 * kernel has CONFIG_NET_VRF): two VRFs on one host, each with one link, the same group and port,
 * neither seeing the other's traffic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from '../../lib/index.js';
import { captureAvailable, type Host, type Link, Topology } from '../harness/netns.js';
import { PY_SEND } from '../wire-helpers.js';
import { Agent } from './agent.js';
import { sleep, udpTo } from './helpers.js';

let net: Topology;
let h: Host;
let pa: Host;
let pb: Host;
let linkA: Link;
let linkB: Link;

beforeAll(async () => {
  net = await Topology.create('dv', { autoDestroy: false });
  [h, pa, pb] = await Promise.all([net.host('h'), net.host('pa'), net.host('pb')]);
  linkA = await net.link(h, net.ifname('a'), pa, net.ifname('pa'), { selfAddr: '10.80.1.1/24', peerAddr: '10.80.1.2/24' });
  linkB = await net.link(h, net.ifname('b'), pb, net.ifname('pb'), { selfAddr: '10.80.2.1/24', peerAddr: '10.80.2.2/24' });
});

afterAll(async () => {
  await net?.destroy();
});

async function peerSends(peer: Host, from: string, group: string, port: number, tag: string, count = 10): Promise<void> {
  await peer.python(PY_SEND, ['4', group, String(port), from, '1', String(count), `${tag}:x`], { check: true });
}

describe('bindToDevice', () => {
  it('rejects what is not an interface, with the value named', () => {
    expect(() => createSocket({ bindToDevice: 'mcnosuch0' })).toThrow(expect.objectContaining({ code: 'ERR_MCAST_UNKNOWN_INTERFACE' }));
    expect(() => createSocket({ bindToDevice: {} as unknown as string })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('options.bindToDevice') }),
    );
    expect(() => createSocket({ bindToDevice: 0 })).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
  });

  it('a socket bound to one device receives only that link\'s datagrams, even with multicastAll', async () => {
    const group = '239.80.0.1';
    const port = 45001;
    const agent = await Agent.start(h);
    try {
      await agent.open('a', { port, multicastAll: true, bindToDevice: linkA.self.ifname });
      await agent.open('b', { port, multicastAll: true, bindToDevice: linkB.self.ifindex });
      await agent.open('free', { port, multicastAll: true });
      await agent.join('a', group, { interface: linkA.self.ifname });
      await agent.join('b', group, { interface: linkB.self.ifname });
      await sleep(100);
      await peerSends(pa, '10.80.1.2', group, port, 'A');
      await peerSends(pb, '10.80.2.2', group, port, 'B');
      await sleep(300);
      const c = await agent.counts();
      expect(c.a).toMatchObject({ total: 10, byTag: { A: 10 } });
      expect(c.b).toMatchObject({ total: 10, byTag: { B: 10 } });
      // An unbound socket with multicastAll gets both: the device binding is what kept them apart.
      expect(c.free).toMatchObject({ total: 20, byTag: { A: 10, B: 10 } });
    } finally {
      await agent.stop();
    }
  });

  it.skipIf(!captureAvailable())('a bound socket sends out of its device, not where the route points', async () => {
    const group = '239.80.0.2';
    await h.addMulticastRoute(linkA.self.ifname);
    const agent = await Agent.start(h);
    const [capA, capB] = await Promise.all([net.capture(linkA.peer, `udp and dst ${group}`), net.capture(linkB.peer, `udp and dst ${group}`)]);
    try {
      await agent.open('s', { bindToDevice: linkB.self.ifname });
      expect(await agent.send('s', group, 45002, 5, 'x')).toBe(5);
      await sleep(300);
      const [a, b] = await Promise.all([capA.stop(), capB.stop()]);
      expect(udpTo(a.packets, group)).toHaveLength(0);
      expect(udpTo(b.packets, group).map((p) => p.src)).toEqual(Array(5).fill('10.80.2.1'));
    } finally {
      await agent.stop();
      await h.exec(['ip', 'route', 'del', '224.0.0.0/4', 'dev', linkA.self.ifname]);
    }
  });
});

/** True when this kernel can make a VRF device (CONFIG_NET_VRF). */
async function vrfAvailable(): Promise<boolean> {
  const probe = await Topology.create('vp', { autoDestroy: false });
  try {
    const host = await probe.host('p');
    return (await host.exec(['ip', 'link', 'add', 'mcvrfprobe', 'type', 'vrf', 'table', '99'])).code === 0;
  } finally {
    await probe.destroy();
  }
}
const HAS_VRF = await vrfAvailable();

describe.skipIf(!HAS_VRF)('bindToDevice with VRFs (needs CONFIG_NET_VRF)', () => {
  it('two VRFs on one host, same group and port, do not see each other\'s traffic; joins and sends work inside each', async () => {
    const group = '239.80.0.3';
    const port = 45003;
    const red = net.ifname('red');
    const blue = net.ifname('blue');
    await h.ip('link', 'add', red, 'type', 'vrf', 'table', '10');
    await h.ip('link', 'add', blue, 'type', 'vrf', 'table', '20');
    for (const [vrf, link] of [
      [red, linkA],
      [blue, linkB],
    ] as const) {
      await h.ip('link', 'set', vrf, 'up');
      await h.ip('link', 'set', link.self.ifname, 'master', vrf);
      await h.ip('addr', 'replace', `${link.self.addr4 ?? ''}/24`, 'dev', link.self.ifname);
    }
    const agent = await Agent.start(h);
    try {
      await agent.open('red', { port, multicastAll: true, bindToDevice: red });
      await agent.open('blue', { port, multicastAll: true, bindToDevice: blue });
      await agent.join('red', group, { interface: linkA.self.ifname });
      await agent.join('blue', group, { interface: linkB.self.ifname });
      await sleep(100);
      await peerSends(pa, '10.80.1.2', group, port, 'A');
      await peerSends(pb, '10.80.2.2', group, port, 'B');
      await sleep(300);
      const c = await agent.counts();
      expect(c.red).toMatchObject({ total: 10, byTag: { A: 10 } });
      expect(c.blue).toMatchObject({ total: 10, byTag: { B: 10 } });
      if (captureAvailable()) {
        const [capA, capB] = await Promise.all([net.capture(linkA.peer, `udp and dst ${group}`), net.capture(linkB.peer, `udp and dst ${group}`)]);
        await agent.open('rs', { bindToDevice: red, interface: linkA.self.ifname });
        expect(await agent.send('rs', group, port, 5, 'r')).toBe(5);
        await sleep(300);
        const [a, b] = await Promise.all([capA.stop(), capB.stop()]);
        expect(udpTo(a.packets, group)).toHaveLength(5);
        expect(udpTo(b.packets, group)).toHaveLength(0);
      }
    } finally {
      await agent.stop();
    }
  });
});
