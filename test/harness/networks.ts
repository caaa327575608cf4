/**
 * Ready-made networks of many hosts, built from ./topologies.ts in a few lines each:
 *
 *   const lan = await switchedLan(net, { receivers: 8 });      // a snooping switch, 1 sender, 8 receivers
 *   lan.receivers[0].end.ifname                                 // 'mc<prefix>e0' in every host, like eth0
 *   await net.capture(lan.receivers[3].port, 'udp')             // what the switch sends down port 3
 *
 *   const wan = await routedNetwork(net, { receiversA: 1, receiversB: 2 });  // two LANs, one router
 *   const router = await startFrrPim(wan);                      // a real IGMP/PIM router (FRR pimd)
 *
 * Addresses: LAN number L (0, 1, ...) is 10.77.L.0/24 and fd77:L::/64; senders are .1, .2, ...,
 * receivers .101, .102, ..., the bridge itself .250 (the source of its IGMP queries), a router .254.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Host } from './hosts.js';
import { type Bridge, type BridgeOptions, type Endpoint, waitSnooping } from './links.js';
import type { Topology } from './topologies.js';

/** A host plugged into a switch: its own end and the switch's port it is plugged into. */
export interface LanHost {
  host: Host;
  /** The host's interface (named the same in every host of the LAN). */
  end: Endpoint;
  /** The switch's end of the cable: a capture here shows what the switch forwards to this host. */
  port: Endpoint;
}

/** A LAN: one switch (a bridge in its own host), senders and receivers plugged into it. */
export interface SwitchedLan {
  switchHost: Host;
  bridge: Bridge;
  senders: LanHost[];
  receivers: LanHost[];
  /** 10.77.L */
  prefix4: string;
  /** fd77:L: */
  prefix6: string;
}

/** Options of switchedLan(): the bridge's options and how many hosts to plug in. */
export interface SwitchedLanOptions extends BridgeOptions {
  /** Receiver hosts (default 8). */
  receivers?: number;
  /** Sender hosts (default 1). */
  senders?: number;
  /** LAN number L: addresses 10.77.L.0/24 and fd77:L::/64, host names prefixed by `l${L}` (default 0). */
  lan?: number;
}

/**
 * Makes a LAN: a switch host with a snooping bridge (querier on unless told; query response
 * interval 1 s), senders and receivers. Resolves once the bridge forwards groups only to members.
 */
export async function switchedLan(net: Topology, opts: SwitchedLanOptions = {}): Promise<SwitchedLan> {
  const { receivers: nr = 8, senders: ns = 1, lan = 0, ...bridgeOpts } = opts;
  const prefix4 = `10.77.${lan}`;
  const prefix6 = `fd77:${lan}:`;
  const switchHost = await net.host(`l${lan}sw`);
  const bridge = await net.bridge(switchHost, net.ifname('br'), {
    addr: `${prefix4}.250/24`,
    queryResponseIntervalMs: 1000,
    ...bridgeOpts,
  });
  const hostIf = net.ifname('e0');
  const plug = async (kind: 's' | 'r', count: number, first: number): Promise<LanHost[]> => {
    const hosts = await net.hostsNamed(`l${lan}${kind}`, count);
    const out: LanHost[] = [];
    // Ports one after the other: `ip link set master` on one bridge is serialized by the kernel anyway.
    for (let i = 0; i < hosts.length; i++) {
      const host = hosts[i] as Host;
      const n = first + i;
      const bp = await net.port(bridge, net.ifname(`${kind}${i + 1}`), host, hostIf, {
        addr: `${prefix4}.${n}/24`,
        addr6: `${prefix6}:${n.toString(16)}/64`,
      });
      out.push({ host, end: bp.end, port: bp.port });
    }
    return out;
  };
  const senders = await plug('s', ns, 1);
  const receivers = await plug('r', nr, 101);
  await waitSnooping(bridge);
  return { switchHost, bridge, senders, receivers, prefix4, prefix6 };
}

/**
 * Whether this kernel routes multicast (CONFIG_IP_MROUTE: its ipmr code makes /proc/net/ip_mr_vif
 * in every network namespace). Without it a router's MRT_INIT fails with ENOPROTOOPT, and FRR's
 * pimd runs on without its mroute socket: it sends IGMP queries but reads no report and forwards
 * nothing (seen on a 6.18.44 kernel built with "# CONFIG_IP_MROUTE is not set"). That is the
 * kernel's limit, not a broken setup, so the routed tests skip there and say why, in CI too.
 */
export function multicastRoutingAvailable(): boolean {
  return existsSync('/proc/net/ip_mr_vif');
}

/** Two LANs joined by a router host (no multicast routing until startFrrPim()). */
export interface RoutedNetwork {
  router: Host;
  /** The sender's LAN (LAN 1, 10.77.1.0/24). */
  lanA: SwitchedLan;
  /** The far LAN (LAN 2, 10.77.2.0/24). */
  lanB: SwitchedLan;
  /** The router's interface on LAN A (10.77.1.254). */
  routerA: Endpoint;
  /** The router's interface on LAN B (10.77.2.254). */
  routerB: Endpoint;
}

/** Options of routedNetwork(). */
export interface RoutedNetworkOptions {
  /** Receivers on the sender's LAN (default 1). */
  receiversA?: number;
  /** Receivers on the far LAN (default 2). */
  receiversB?: number;
}

/**
 * Makes two switched LANs (snooping, no querier of their own: the router is the querier, as on a
 * routed network) and a router host on both, with IPv4 forwarding on and unicast routes via the
 * router in every host.
 */
export async function routedNetwork(net: Topology, opts: RoutedNetworkOptions = {}): Promise<RoutedNetwork> {
  const lanA = await switchedLan(net, { lan: 1, senders: 1, receivers: opts.receiversA ?? 1, querier: false });
  const lanB = await switchedLan(net, { lan: 2, senders: 0, receivers: opts.receiversB ?? 2, querier: false });
  const router = await net.host('rt');
  const a = await net.port(lanA.bridge, net.ifname('rt'), router, net.ifname('ra'), { addr: `${lanA.prefix4}.254/24` });
  const b = await net.port(lanB.bridge, net.ifname('rt'), router, net.ifname('rb'), { addr: `${lanB.prefix4}.254/24` });
  await router.sysctl('net.ipv4.ip_forward', 1);
  for (const key of ['all', 'default', a.end.ifname, b.end.ifname]) await router.sysctl(`net.ipv4.conf.${key}.rp_filter`, 0);
  // Unicast routes to the other LAN (PIM checks the route back to the source: RPF).
  for (const [lan, other] of [
    [lanA, lanB],
    [lanB, lanA],
  ] as const) {
    for (const h of [...lan.senders, ...lan.receivers]) {
      await h.host.ip('route', 'add', `${other.prefix4}.0/24`, 'via', `${lan.prefix4}.254`);
    }
  }
  return { router, lanA, lanB, routerA: a.end, routerB: b.end };
}

/** FRR (zebra + pimd) running in the router host of a routed network. */
export interface MulticastRouter {
  /** `vtysh -c COMMAND` against this router's daemons (e.g. 'show ip mroute'). */
  vtysh(command: string): Promise<string>;
  /** The daemons' log so far. */
  log(): string;
  stop(): Promise<void>;
}

const FRR = '/usr/lib/frr';

/**
 * Starts FRR's zebra and pimd in the router: PIM-SM and IGMPv3 on both interfaces, the router its
 * own rendezvous point for 224.0.0.0/4 (a static `ip pim rp`), and the IGMP querier of both LANs.
 * So it forwards a group onto a LAN only once a host of that LAN has joined it, and forwards
 * source-specific (232.0.0.0/8) joins from that source only. Resolves once pimd lists both
 * interfaces as PIM interfaces.
 */
export async function startFrrPim(wan: RoutedNetwork): Promise<MulticastRouter> {
  const { router, routerA, routerB } = wan;
  const dir = mkdtempSync(join(tmpdir(), 'mcast-frr-'));
  const iface = (name: string): string[] => [
    `interface ${name}`,
    ' ip pim',
    ' ip igmp',
    ' ip igmp version 3',
    // The response time first: FRR checks query-interval * 10 >= query-max-response-time (in
    // tenths of a second) as each line is applied, so against the default 100 an interval of 5
    // was refused ("Must condition ... not satisfied") and the router queried every 125 s.
    ' ip igmp query-max-response-time 10',
    ' ip igmp query-interval 5',
    'exit',
  ];
  writeFileSync(join(dir, 'zebra.conf'), 'hostname router\n');
  writeFileSync(
    join(dir, 'pimd.conf'),
    ['hostname router', ...iface(routerA.ifname), ...iface(routerB.ifname), `ip pim rp ${routerA.addr4 ?? ''} 224.0.0.0/4`, ''].join('\n'),
  );
  // The daemons keep pid files and sockets under /run/frr: give the router host its own /run.
  await router.exec(['mount', '-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', '/run'], { check: true });
  await router.exec(['mkdir', '-p', '/run/frr'], { check: true });
  // The daemons drop root to the package's user `frr` (which the frrvty group of vtysh needs).
  await router.exec(['chown', 'frr:frr', '/run/frr'], { check: true });
  chmodSync(dir, 0o755);
  const common = ['-u', 'frr', '-g', 'frr', '-z', '/run/frr/zserv.api', '--vty_socket', '/run/frr', '-P', '0', '--log', 'stdout'];
  let log = '';
  const start = (daemon: string): ReturnType<Host['spawn']> => {
    const child = router.spawn(
      [`${FRR}/${daemon}`, ...common, '-i', `/run/frr/${daemon}.pid`, '-f', join(dir, `${daemon}.conf`)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    return child;
  };
  const vtysh = async (command: string): Promise<string> =>
    (await router.exec(['vtysh', '--vty_socket', '/run/frr', '-c', command])).stdout;
  const zebra = start('zebra');
  const deadline = Date.now() + 20_000;
  while ((await router.exec(['test', '-S', '/run/frr/zserv.api'])).code !== 0) {
    if (zebra.exitCode !== null || Date.now() > deadline) throw new Error(`zebra did not start: ${log}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  const pimd = start('pimd');
  for (;;) {
    const out = await vtysh('show ip pim interface');
    if (out.includes(routerA.ifname) && out.includes(routerB.ifname)) break;
    if (pimd.exitCode !== null || Date.now() > deadline) throw new Error(`pimd did not start: ${out} ${log}`);
    await new Promise((res) => setTimeout(res, 200));
  }
  return {
    vtysh,
    log: () => log,
    async stop() {
      pimd.kill('SIGTERM');
      zebra.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
