/**
 * Helpers of the network tests: captures on many switch ports at once, counting the datagrams
 * each saw, and waiting for the switch or the router to learn a membership.
 */
import { bridgeMdb, type Capture, type LanHost, type Packet, type SwitchedLan, type Topology } from '../harness/netns.js';
import { until } from '../wire-helpers.js';

/** UDP datagrams to `group` in a capture, optionally only those from `source`. */
export function udpTo(packets: readonly Packet[], group: string, source?: string): Packet[] {
  return packets.filter((p) => p.proto === 'UDP' && p.dst === group && (source === undefined || p.src === source));
}

/** Starts a capture on the switch port of every host in `hosts` (what the switch sends each host). */
export async function capturePorts(net: Topology, hosts: readonly LanHost[], filter: string): Promise<Capture[]> {
  return Promise.all(hosts.map((h) => net.capture(h.port, filter)));
}

/** Stops the captures and returns, per capture, the datagrams to `group` (from `source`, if given). */
export async function stopAndCount(caps: readonly Capture[], group: string, source?: string): Promise<number[]> {
  const results = await Promise.all(caps.map((c) => c.stop()));
  return results.map((r) => udpTo(r.packets, group, source).length);
}

/** Waits until the switch's multicast database has exactly these ports as members of `group`. */
export async function waitForMdb(lan: SwitchedLan, group: string, members: readonly LanHost[], timeoutMs = 8000): Promise<void> {
  const want = members.map((m) => m.port.ifname).sort().join(',');
  let last = '';
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const entries = await bridgeMdb(lan.bridge);
    last = [...new Set(entries.filter((e) => e.group === group && e.port !== lan.bridge.ifname).map((e) => e.port))].sort().join(',');
    if (last === want) return;
    if (Date.now() > deadline) throw new Error(`switch members of ${group}: [${last}], expected [${want}]`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export { until };
