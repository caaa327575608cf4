/**
 * The feed test bed: two sender hosts, two links into one receiver host (this test process, the
 * sandbox namespace), one line on each link, and impairments independent per link.
 *
 *     sender host SA (10.N.1.2) ──link A── (10.N.1.1) eth-a ┐
 *                                                           ├ receiver (net.self)
 *     sender host SB (10.N.2.2, 10.N.2.3) ──link B── eth-b  ┘
 *
 * Impairments. The kernel of these machines has no sch_netem (CONFIG_NET_SCH_NETEM is off, as
 * `zcat /proc/config.gz` shows), so loss and reordering are built from what it has:
 * - loss: an nftables netdev ingress chain on the receiver's end of the link drops UDP datagrams
 *   at random (`numgen random mod 1000000 < PPM drop`), before any socket sees them;
 * - reordering: an HTB qdisc on the sender's end sends the datagrams whose chosen payload bits
 *   match (u32 on the MoldUDP64 sequence number's low byte, or a fixed field's) through a slow
 *   class while the others pass a fast one: those wait behind each other and are overtaken.
 * Both count per link (nft counters; HTB class statistics), and neither touches the other link.
 */
import { type Host, type Link, Topology } from './netns.js';

/** A feed bed; see the file comment. */
export interface FeedBed {
  net: Topology;
  /** Sender hosts of line A (index 0) and line B (index 1). */
  senders: [Host, Host];
  /** The links; `self` is the receiver's end (eth-a, eth-b), `peer` the sender's. */
  links: [Link, Link];
  /** The second address of SB, a source that a source-specific line B must not hear. */
  otherSourceB: string;
  /** Drops `ppm` per million UDP datagrams arriving on line `line` (0 turns loss off). */
  setLoss(line: number, ppm: number): Promise<void>;
  /** Datagrams dropped by setLoss on `line` so far. */
  lossCount(line: number): Promise<number>;
  /**
   * Reorders line `line`: datagrams whose byte at UDP payload offset `byte` has `mask` set are
   * held back behind a `slowRate` class (default '4mbit'). `null` turns it off.
   */
  setReorder(line: number, spec: { byte: number; mask: number; slowRate?: string } | null): Promise<void>;
}

/** Makes the bed (prefix: a topology prefix; subnet: N of 10.N.x.y, unique per test file). */
export async function feedBed(prefix: string, subnet: number): Promise<FeedBed> {
  const net = await Topology.create(prefix, { autoDestroy: false });
  const [sa, sb] = await Promise.all([net.host('sa'), net.host('sb')]);
  const linkA = await net.link(net.self, net.ifname('ea'), sa, net.ifname('sa0'), {
    selfAddr: `10.${subnet}.1.1/24`,
    peerAddr: `10.${subnet}.1.2/24`,
    selfAddr6: `fd${subnet}:1::1/64`,
    peerAddr6: `fd${subnet}:1::2/64`,
  });
  const linkB = await net.link(net.self, net.ifname('eb'), sb, net.ifname('sb0'), {
    selfAddr: `10.${subnet}.2.1/24`,
    peerAddr: `10.${subnet}.2.2/24`,
    selfAddr6: `fd${subnet}:2::1/64`,
    peerAddr6: `fd${subnet}:2::2/64`,
  });
  const otherSourceB = `10.${subnet}.2.3`;
  await sb.addAddress(linkB.peer.ifname, `${otherSourceB}/24`);
  const links: [Link, Link] = [linkA, linkB];
  const table = `feedbed${prefix}`;
  await net.self.exec(['nft', 'add', 'table', 'netdev', table], { check: true });
  for (const [i, link] of links.entries()) {
    await net.self.exec(['nft', 'add', 'chain', 'netdev', table, `line${i}`, `{ type filter hook ingress device ${link.self.ifname} priority 0; }`], { check: true });
  }
  const nft = (...args: string[]): Promise<unknown> => net.self.exec(['nft', ...args], { check: true });
  return {
    net,
    senders: [sa, sb],
    links,
    otherSourceB,
    async setLoss(line, ppm) {
      await nft('flush', 'chain', 'netdev', table, `line${line}`);
      if (ppm > 0) await nft('add', 'rule', 'netdev', table, `line${line}`, 'meta', 'l4proto', 'udp', 'numgen', 'random', 'mod', '1000000', '<', String(ppm), 'counter', 'drop');
    },
    async lossCount(line) {
      const r = await net.self.exec(['nft', '-j', 'list', 'chain', 'netdev', table, `line${line}`], { check: true });
      const doc = JSON.parse(r.stdout) as { nftables: Array<{ rule?: { expr: Array<{ counter?: { packets: number } }> } }> };
      let packets = 0;
      for (const item of doc.nftables) for (const e of item.rule?.expr ?? []) packets += e.counter?.packets ?? 0;
      return packets;
    },
    async setReorder(line, spec) {
      const link = links[line]!;
      const host = link.peer.host;
      const dev = link.peer.ifname;
      await host.exec(['tc', 'qdisc', 'del', 'dev', dev, 'root']); // none yet: fails quietly
      if (spec === null) return;
      const tc = (...args: string[]): Promise<unknown> => host.exec(['tc', ...args], { check: true });
      await tc('qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '10', 'r2q', '100000');
      await tc('class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit');
      await tc('class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:20', 'htb', 'rate', spec.slowRate ?? '4mbit');
      // IPv4 header (20 bytes, no options) + UDP header (8): payload byte k is at offset 28 + k.
      await tc('filter', 'add', 'dev', dev, 'parent', '1:', 'protocol', 'ip', 'u32', 'match', 'u8', String(spec.mask), String(spec.mask), 'at', String(28 + spec.byte), 'flowid', '1:20');
    },
  };
}
