/** `mcast ifaces`: the interfaces a group can be joined or sent on, and what the host joined. */
import { listInterfaces, memberships, multicastVersions } from '../index';
import type { CommandSpec, ParsedArgs } from './args';
import { interfaceJson, interfaceTable, membershipJson, membershipTable, type InterfaceRow } from './format';
import type { Command, Io } from './io';

const spec: CommandSpec = {
  name: 'ifaces',
  summary:
    'Lists the network interfaces: index, name, flags (up/down, multicast, loopback), the IGMP and MLD versions in use, and addresses.',
  positionals: [],
  options: [
    { name: 'memberships', help: "the groups each interface has joined, as the kernel holds them (every program's sockets)" },
    { name: 'all', help: "with --memberships: also the link-local groups the kernel joins by itself (224.0.0.1, ff02::1, ...)" },
    { name: 'json', help: 'a JSON array, for scripts' },
  ],
  notes: [
    'Any of the index, the name or an address can be given to --iface of recv and send.\n' +
      "`lo` has no multicast flag, yet works for multicast on this host when it is named with --iface lo.",
    'IGMP: the version the interface speaks now (/proc/net/igmp): "v3"; "v2 forced" when\n' +
      'net.ipv4.conf.IF.force_igmp_version says so; "v2 querier" when an IGMPv2 (or v1) querier on the\n' +
      'link made the kernel fall back. Below v3 a source-specific join reaches the network as a join of\n' +
      'the whole group. MLD: "v1 forced" (force_mld_version=1) or "v2" (the kernel does not show a\n' +
      'fallback to an MLDv1 querier).',
    'With --memberships: per interface, each group with its filter mode (include: only the listed\n' +
      'sources; exclude: any source but the listed ones), its sources and how many sockets hold it,\n' +
      'read from /proc/net/igmp, igmp6, mcfilter and mcfilter6.',
  ],
  examples: ['mcast ifaces', 'mcast ifaces --memberships', 'mcast ifaces --memberships --json'],
};

function run(args: ParsedArgs, io: Io): Promise<number> {
  const json = args.flags.has('json');
  const joined = memberships();
  if (args.flags.has('memberships')) {
    const all = args.flags.has('all');
    const shown = joined.map((i) => ({ ...i, groups: all ? i.groups : i.groups.filter((g) => !g.linkLocal) }));
    io.stdout.write(json ? membershipJson(shown) : membershipTable(shown));
    return Promise.resolve(0);
  }
  const rows: InterfaceRow[] = listInterfaces().map((info) => ({
    ...info,
    versions: multicastVersions(info.name, joined.find((j) => j.index === info.index)?.igmpVersion),
  }));
  io.stdout.write(json ? interfaceJson(rows) : interfaceTable(rows));
  return Promise.resolve(0);
}

export const ifacesCommand: Command = { spec, run };
