/**
 * Topologies: a set of hosts, links, bridges and captures made for one test and torn down with it.
 *
 *   const net = await Topology.create('mh');        // refuses to run outside the sandbox
 *   const pa = await net.host('pa');                 // a peer host: a new network namespace
 *   const link = await net.link(net.self, 'mca0', pa, 'mcpa0', {
 *     selfAddr: '10.1.1.1/24', peerAddr: '10.1.1.2/24',
 *   });                                              // veth pair, both ends up, IPv6 link-local ready
 *   const cap = await net.capture(link.self, 'igmp'); // tcpdump, listening when this resolves
 *   await net.destroy();                             // idempotent; also run automatically
 *
 * Ready-made networks of many hosts (a snooping switch, a multicast router) are in ./networks.ts.
 *
 * Teardown: a topology made inside a test is destroyed when that test finishes; one made in a
 * hook or at file level is destroyed by the setup file's afterAll; all are killed at exit.
 */
import { statSync } from 'node:fs';
import { onTestFinished } from 'vitest';
import { Host, startPeerHost } from './hosts.js';
import { type Capture, type CaptureOptions, type CaptureTarget, startCapture } from './captures.js';
import {
  addBridgePort,
  type Bridge,
  type BridgeOptions,
  type BridgePort,
  type BridgePortOptions,
  checkIfname,
  type Link,
  type LinkOptions,
  makeBridge,
  makeVeth,
} from './links.js';
import { assertSandboxed, HARNESS_IFACE_PREFIX } from './sandbox.js';

const live = new Set<Topology>();
let exitHookInstalled = false;

/** Destroys every topology still alive (the setup file calls this in afterAll). */
export async function destroyAllTopologies(): Promise<void> {
  await Promise.all([...live].map((t) => t.destroy()));
}

/** Options of Topology.create(). */
export interface TopologyOptions {
  /**
   * Register net.destroy() with onTestFinished when created inside a test (default true).
   * Topologies made in hooks or at file level are destroyed by the setup file's afterAll.
   */
  autoDestroy?: boolean;
}

/** A set of hosts, links, bridges and captures, torn down together. */
export class Topology {
  readonly hosts: Host[] = [];
  readonly links: Link[] = [];
  /** Bridges made with bridge(). */
  readonly bridges: Bridge[] = [];
  private readonly captures = new Set<Capture>();
  /** Interfaces made in the sandbox namespace: they outlive the peers, so destroy() deletes them. */
  private readonly selfIfnames: string[] = [];
  private destroying: Promise<void> | null = null;

  private constructor(
    readonly prefix: string,
    /** The sandbox namespace this test process runs in. */
    readonly self: Host,
  ) {}

  /** Makes a topology; throws unless this process is inside the run-in-netns sandbox. */
  static async create(prefix: string, opts: TopologyOptions = {}): Promise<Topology> {
    assertSandboxed();
    if (!/^[A-Za-z0-9]{1,8}$/.test(prefix)) throw new Error(`topology prefix ${prefix}: 1 to 8 letters or digits`);
    const self = new Host('self', null, [], statSync('/proc/self/ns/net').ino);
    const net = new Topology(prefix, self);
    live.add(net);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const t of live) for (const h of t.hosts) h.killNow();
      });
    }
    if (opts.autoDestroy !== false) {
      try {
        onTestFinished(() => net.destroy());
      } catch {
        // not inside a test: the setup file's afterAll destroys it
      }
    }
    return net;
  }

  /** `mc` + prefix + suffix, checked to fit in 15 characters: a unique-looking interface name. */
  ifname(suffix: string): string {
    const name = `${HARNESS_IFACE_PREFIX}${this.prefix}${suffix}`;
    checkIfname(name);
    return name;
  }

  /** Makes a peer host: a new network namespace with `lo` up and nothing else. */
  async host(name: string): Promise<Host> {
    this.assertAlive();
    const host = await startPeerHost(`${this.prefix}-${name}`, this.self.netnsInode);
    this.hosts.push(host);
    return host;
  }

  /** Makes `count` peer hosts named `${base}1` ... `${base}${count}`, a few at a time. */
  async hostsNamed(base: string, count: number): Promise<Host[]> {
    const out: Host[] = [];
    for (let i = 1; i <= count; i += 8) {
      const batch = Array.from({ length: Math.min(8, count - i + 1) }, (_, k) => this.host(`${base}${i + k}`));
      out.push(...(await Promise.all(batch)));
    }
    return out;
  }

  /**
   * Makes a veth pair: `aIf` in host a, `bIf` in host b (a may be b), both up, addresses set,
   * IPv6 link-local usable. Returns both ends with their ifindex and addresses.
   */
  async link(a: Host, aIf: string, b: Host, bIf: string, opts: LinkOptions = {}): Promise<Link> {
    this.assertAlive();
    const link = await makeVeth(a, aIf, b, bIf, opts);
    if (a.isSelf) this.selfIfnames.push(aIf);
    else if (b.isSelf) this.selfIfnames.push(bIf);
    this.links.push(link);
    return link;
  }

  /** Makes a Linux bridge (a switch: IGMP/MLD snooping and a querier by default) in `host`. */
  async bridge(host: Host, ifname: string, opts: BridgeOptions = {}): Promise<Bridge> {
    this.assertAlive();
    const br = await makeBridge(host, ifname, opts);
    if (host.isSelf) this.selfIfnames.push(ifname);
    this.bridges.push(br);
    return br;
  }

  /** Plugs `host` into a port of the bridge: veth `portIf` (on the bridge) to `hostIf` (in host). */
  async port(bridge: Bridge, portIf: string, host: Host, hostIf: string, opts: BridgePortOptions = {}): Promise<BridgePort> {
    this.assertAlive();
    const bp = await addBridgePort(bridge, portIf, host, hostIf, opts);
    if (bridge.host.isSelf) this.selfIfnames.push(portIf);
    else if (host.isSelf) this.selfIfnames.push(hostIf);
    this.links.push({ self: bp.port, peer: bp.end });
    return bp;
  }

  /**
   * Starts `tcpdump -l -n -tt -vv --immediate-mode -i IF FILTER` in the endpoint's host and
   * resolves once tcpdump is listening. A Link means its `self` end.
   */
  async capture(target: CaptureTarget | Link, filter: string, opts: CaptureOptions = {}): Promise<Capture> {
    this.assertAlive();
    const end = 'self' in target ? target.self : target;
    const cap = await startCapture(end, filter, opts);
    this.captures.add(cap);
    return cap;
  }

  /** Stops captures, kills every process started in the hosts, removes links and hosts. Idempotent. */
  destroy(): Promise<void> {
    this.destroying ??= this.doDestroy();
    return this.destroying;
  }

  private async doDestroy(): Promise<void> {
    await Promise.all([...this.captures].map((c) => c.stop().catch(() => undefined)));
    // Deleting one end of a veth pair deletes both.
    for (const ifname of this.selfIfnames.reverse()) await this.self.exec(['ip', 'link', 'del', 'dev', ifname]);
    await Promise.all(this.hosts.map((h) => h.close()));
    await this.self.close();
    live.delete(this);
  }

  private assertAlive(): void {
    if (this.destroying) throw new Error('topology is destroyed');
  }

}
