/**
 * Which interface the kernel uses for a group when none is named: it routes the group address
 * like any destination. `ip route get GROUP` asks the kernel exactly that (policy rules and all).
 * Where iproute2 is missing, the main IPv4 table (/proc/net/route) is searched the way the kernel
 * does (longest prefix, then lowest metric), and for IPv6 a connected socket (connect(2) sends
 * nothing) shows the source address the kernel picks, whose interface is the routed one.
 *
 * The source address alone is not enough for IPv4: routed to an interface without an address of
 * its own (`lo` in a fresh namespace has only host-scope 127.0.0.1), the kernel takes another
 * interface's address, or none.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { createSocket, listInterfaces, type Family, type InterfaceInfo } from '../index';

export type KernelChoice =
  | { ok: true; interfaces: InterfaceInfo[]; how: string }
  | { ok: false; code: string };

interface IpRoute {
  dev?: string;
  type?: string;
}

/** `ip -j route get GROUP`: undefined when iproute2 cannot be run. */
function ipRouteGet(group: string, family: Family): Promise<KernelChoice | undefined> {
  return new Promise((resolve) => {
    const args = [...(family === 6 ? ['-6'] : []), '-j', 'route', 'get', group];
    execFile('ip', args, { timeout: 5000 }, (error, stdout, stderr) => {
      if (error !== null) {
        const code = (error as NodeJS.ErrnoException).code;
        if (typeof code === 'string' || error.killed) return resolve(undefined); // ENOENT: no iproute2
        return resolve({ ok: false, code: /unreachable/i.test(stderr) ? 'ENETUNREACH' : stderr.trim() || 'ip route get failed' });
      }
      let routes: IpRoute[];
      try {
        routes = JSON.parse(stdout) as IpRoute[];
      } catch {
        return resolve(undefined);
      }
      const dev = routes[0]?.dev;
      if (dev === undefined) return resolve(undefined);
      resolve({ ok: true, interfaces: listInterfaces().filter((i) => i.name === dev), how: `ip route get ${group}: dev ${dev}` });
    });
  });
}

/** Little-endian hex of /proc/net/route to a 32-bit number. */
function routeWord(hex: string): number {
  const n = Number.parseInt(hex, 16);
  return (((n & 0xff) << 24) | (((n >>> 8) & 0xff) << 16) | (((n >>> 16) & 0xff) << 8) | ((n >>> 24) & 0xff)) >>> 0;
}

/** Longest-prefix match of an IPv4 group in /proc/net/route (the main table). */
export function procRouteLookup(table: string, group: string): string | undefined {
  const g = group.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
  let best: { dev: string; mask: number; metric: number } | undefined;
  for (const line of table.split('\n').slice(1)) {
    const [dev, dest, , flags, , , metric, mask] = line.trim().split(/\s+/);
    if (dev === undefined || dest === undefined || mask === undefined || metric === undefined || flags === undefined) continue;
    if ((Number.parseInt(flags, 16) & 0x1) === 0) continue; // RTF_UP
    const m = routeWord(mask);
    if (((g & m) >>> 0) !== routeWord(dest)) continue;
    const better = best === undefined || m > best.mask || (m === best.mask && Number(metric) < best.metric);
    if (better) best = { dev, mask: m, metric: Number(metric) };
  }
  return best?.dev;
}

/** The source address the kernel picks for `group`: connect(2) routes it and sends nothing. */
function connectSource(group: string, family: Family): { source: string } | { code: string } {
  const socket = createSocket({ family });
  try {
    socket.connect(group, 9);
    return { source: socket.address().address };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === 'string' ? code : 'EUNKNOWN' };
  } finally {
    socket.close();
  }
}

function fallbackChoice(group: string, family: Family): KernelChoice {
  if (family === 4) {
    let table = '';
    try {
      table = readFileSync('/proc/net/route', 'utf8');
    } catch {
      return { ok: false, code: 'cannot read /proc/net/route' };
    }
    const dev = procRouteLookup(table, group);
    if (dev === undefined) return { ok: false, code: 'ENETUNREACH' };
    return { ok: true, interfaces: listInterfaces().filter((i) => i.name === dev), how: `/proc/net/route: dev ${dev}` };
  }
  const result = connectSource(group, family);
  if ('code' in result) return { ok: false, code: result.code };
  const interfaces = listInterfaces().filter((i) =>
    i.addresses.some((a) => a.family === 'IPv6' && a.address.toLowerCase() === result.source.toLowerCase()),
  );
  return { ok: true, interfaces, how: `source address ${result.source}` };
}

/** Asks the kernel which interface it would use for `group` without an explicit one. */
export async function kernelChoice(group: string, family: Family): Promise<KernelChoice> {
  return (await ipRouteGet(group, family)) ?? fallbackChoice(group, family);
}

/** One line saying what the kernel will do for `group` without an explicit interface. */
export function describeKernelChoice(choice: KernelChoice, group: string, verb: 'send' | 'join'): string {
  if (!choice.ok) {
    return choice.code === 'ENETUNREACH' || choice.code === 'EINVAL'
      ? `the kernel has no route to ${group}, so it has no interface to ${verb} on: name one with --iface (see 'mcast ifaces')`
      : `the kernel cannot pick an interface for ${group} (${choice.code}): name one with --iface (see 'mcast ifaces')`;
  }
  return `no --iface given: the kernel will ${verb} on ${choiceLabel(choice)}, by its route to ${group} (${choice.how}); choose with --iface on a multi-homed host`;
}

/** `mca0 (index 3)`, or what is known when the lookup does not name one interface. */
export function choiceLabel(choice: KernelChoice): string {
  if (!choice.ok) return 'no interface';
  const names = choice.interfaces.map((i) => `${i.name} (index ${i.index})`);
  if (names.length === 1) return names[0] ?? '';
  return names.length === 0 ? 'an interface not listed' : `one of ${names.join(', ')}`;
}

/**
 * The interface a command works on, as a label for its status line: the one given, or the one the
 * kernel routes the group to, which is then said on stderr. Throws when there is none.
 */
export async function interfaceInUse(
  group: string,
  family: Family,
  given: { info: InterfaceInfo } | undefined,
  verb: 'send' | 'join',
  say: (line: string) => void,
): Promise<string> {
  if (given !== undefined) return `${given.info.name} (index ${given.info.index})`; // as choiceLabel() writes it
  const choice = await kernelChoice(group, family);
  if (!choice.ok) throw new Error(describeKernelChoice(choice, group, verb));
  say(describeKernelChoice(choice, group, verb));
  return choiceLabel(choice);
}
