/** `mcast ifaces`: the interfaces a group can be joined or sent on. */
import { listInterfaces } from '../index';
import type { CommandSpec, ParsedArgs } from './args';
import { interfaceJson, interfaceTable } from './format';
import type { Command, Io } from './io';

const spec: CommandSpec = {
  name: 'ifaces',
  summary: 'Lists the network interfaces: index, name, flags (up/down, multicast, loopback) and addresses.',
  positionals: [],
  options: [{ name: 'json', help: 'a JSON array, for scripts' }],
  notes: [
    'Any of the index, the name or an address can be given to --iface of recv and send.\n' +
      "`lo` has no multicast flag, yet works for multicast on this host when it is named with --iface lo.",
  ],
};

function run(args: ParsedArgs, io: Io): Promise<number> {
  const list = listInterfaces();
  io.stdout.write(args.flags.has('json') ? interfaceJson(list) : interfaceTable(list));
  return Promise.resolve(0);
}

export const ifacesCommand: Command = { spec, run };
