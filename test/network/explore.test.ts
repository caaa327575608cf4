import { it } from 'vitest';
import { Topology, routedNetwork, startFrrPim } from '../harness/netns.js';
import { Agent } from './agent.js';

it('explore pimd', async () => {
  const net = await Topology.create('ex');
  const wan = await routedNetwork(net, { receiversA: 1, receiversB: 2 });
  const pimd = await startFrrPim(wan);
  const capA = await net.capture(wan.routerA, 'udp');
  const capB = await net.capture(wan.routerB, 'udp or pim');
  const s = await Agent.start(wan.lanA.senders[0]!.host);
  const r = await Agent.start(wan.lanB.receivers[0]!.host);
  await s.open('s', { ttl: 8, interface: wan.lanA.senders[0]!.end.ifname });
  await r.open('r', { port: 5000 });
  await r.join('r', '239.5.5.5', { interface: wan.lanB.receivers[0]!.end.ifname });
  await new Promise((res) => setTimeout(res, Number(process.env.WAITMS ?? 2000)));
  console.log('sent', await s.send('s', '239.5.5.5', 5000, 20, 'a', 50));
  await new Promise((res) => setTimeout(res, 500));
  console.log(await r.counts());
  console.log(await pimd.vtysh("show ip mroute") + await pimd.vtysh("show ip igmp groups") + await pimd.vtysh("show ip pim rp-info"));
  console.log((await wan.router.exec(['ip', 'mroute'])).stdout);
  console.log((await wan.router.exec(['cat', '/proc/net/ip_mr_vif', '/proc/net/ip_mr_cache'])).stdout);
  console.log('A', (await capA.stop()).lines.slice(0, 6).join('\n'));
  console.log('B', (await capB.stop()).lines.slice(0, 6).join('\n'));
}, 60_000);
