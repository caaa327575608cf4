/**
 * Surviving interface churn: VPNs reconnect, containers restart, USB NICs are re-plugged. When an
 * interface is deleted the kernel drops every membership on it, silently; a socket joined there
 * would never receive again. This module watches rtnetlink link changes (native LinkWatch: a
 * netlink socket polled on the process's own loop, no thread), tells each socket that held a
 * membership or its outgoing interface on a deleted interface ('interfaceLost'), and, for what was
 * named by interface *name*, joins again (with the same source filters) or sets the outgoing
 * interface again when an interface of that name comes back with its new index
 * ('interfaceBack'). What was named by index or address is reported and left: that index or
 * address will not come back meaning the same thing. `rejoin: false` turns the rejoining off.
 * A rename keeps the memberships (the kernel keys them by index); the new name is tracked.
 */
import type { EventEmitter } from 'node:events';
import { binding, type LinkEventRow, MembershipOp, type NativeLinkWatch } from './binding';
import type { ResolvedInterface } from './interfaces';
import type { InterfaceRef } from './types';
import { WeakRegistry } from './weak-registry';

/** What 'interfaceLost' and 'interfaceBack' tell: which interface, and what the socket held on it. */
export interface InterfaceChangeEvent {
  /** 'membership' (a join) or 'outgoing' (the interface multicast was sent from). */
  kind: 'membership' | 'outgoing';
  /** The interface's name. */
  interface: string;
  /** Its index: the deleted one for 'interfaceLost', the new one for 'interfaceBack'. */
  index: number;
  /** 'interfaceBack': the index it had before it was deleted. */
  previousIndex?: number;
  /** The group, for a membership. */
  group?: string;
  /** The source of a source-specific membership. */
  source?: string;
  /** 'interfaceLost': whether mcast will join again (or set the interface again) when it returns. */
  willRestore?: boolean;
  /** 'interfaceBack': the sources blocked again with blockSource. */
  blockedSources?: string[];
  /** 'interfaceBack': set when joining again failed (the membership is then given up). */
  error?: Error;
}

/** The socket methods this module drives (Socket implements them). */
export interface ChurnSocket extends EventEmitter {
  readonly closed: boolean;
  join(group: string, options?: { interface?: InterfaceRef; source?: string }): unknown;
  blockSource(group: string, source: string, options?: { interface?: InterfaceRef }): unknown;
  setMulticastInterface(iface: InterfaceRef): unknown;
}

interface Held {
  group: string;
  source: string | null;
  ifname: string;
  ifindex: number;
  byName: boolean;
  blocked: Set<string>;
}

interface Outgoing {
  ifname: string;
  ifindex: number;
  byName: boolean;
}

interface SocketState {
  rejoin: boolean;
  held: Held[];
  /** By-name memberships whose interface was deleted, waiting for the name to come back. */
  lost: Held[];
  outgoing?: Outgoing;
  lostOutgoing?: Outgoing;
  /** Set while this module itself calls join/blockSource/setMulticastInterface. */
  restoring: boolean;
}

// Held weakly: watching must not keep an unreachable socket (which the GC would close) alive.
const registry = new WeakRegistry<ChurnSocket, SocketState>(() => stopIfIdle());
let watch: NativeLinkWatch | undefined;

/** The live watched sockets with their state. */
function states(): Array<[ChurnSocket, SocketState]> {
  return registry.entries();
}

/** The socket's state; with `watching`, the rtnetlink watcher is started if it is not running. */
function stateOf(socket: ChurnSocket, watching = true): SocketState {
  let s = registry.get(socket);
  if (s === undefined) {
    s = { rejoin: true, held: [], lost: [], restoring: false };
    registry.set(socket, s);
  }
  if (watching && watch === undefined) watch = new binding.LinkWatch(onLinkEvents);
  return s;
}

function stopIfIdle(): void {
  if (registry.size === 0 && watch !== undefined) {
    watch.close();
    watch = undefined;
  }
}

/** @internal The socket's `rejoin` option (default true). */
export function setRejoin(socket: ChurnSocket, on: boolean): void {
  stateOf(socket, false).rejoin = on;
}

/** @internal A successful membership operation of `socket` on a known interface. */
export function trackMembership(
  socket: ChurnSocket,
  op: MembershipOp,
  group: string,
  source: string | null,
  iface: ResolvedInterface | undefined,
): void {
  if (iface === undefined) return; // joined where the kernel's route pointed: nothing to name
  const s = stateOf(socket);
  const same = (h: Held): boolean => h.group === group && h.ifindex === iface.index;
  if (op === MembershipOp.Join || op === MembershipOp.JoinSource) {
    s.held.push({ group, source, ifname: iface.name, ifindex: iface.index, byName: iface.by === 'name', blocked: new Set() });
  } else if (op === MembershipOp.Leave || op === MembershipOp.LeaveSource) {
    const at = s.held.findIndex((h) => same(h) && h.source === source);
    if (at >= 0) s.held.splice(at, 1);
    s.lost = s.lost.filter((h) => !(h.group === group && h.source === source && h.ifname === iface.name));
  } else if (source !== null) {
    const h = s.held.find((x) => same(x) && x.source === null);
    if (op === MembershipOp.BlockSource) h?.blocked.add(source);
    else h?.blocked.delete(source);
  }
}

/** @internal The socket's outgoing interface was set. */
export function trackOutgoing(socket: ChurnSocket, iface: ResolvedInterface): void {
  const s = stateOf(socket);
  s.outgoing = { ifname: iface.name, ifindex: iface.index, byName: iface.by === 'name' };
  if (!s.restoring) delete s.lostOutgoing;
}

/** @internal A closed socket is no longer watched. */
export function forgetSocket(socket: ChurnSocket): void {
  registry.delete(socket);
  stopIfIdle();
}

function emit(socket: ChurnSocket, event: 'interfaceLost' | 'interfaceBack', info: InterfaceChangeEvent): void {
  socket.emit(event, info);
}

function deleted(index: number): void {
  for (const [socket, s] of states()) {
    for (const h of s.held.filter((x) => x.ifindex === index)) {
      const willRestore = s.rejoin && h.byName;
      if (willRestore) s.lost.push(h);
      emit(socket, 'interfaceLost', {
        kind: 'membership',
        interface: h.ifname,
        index,
        group: h.group,
        ...(h.source !== null && { source: h.source }),
        willRestore,
      });
    }
    s.held = s.held.filter((x) => x.ifindex !== index);
    if (s.outgoing?.ifindex === index) {
      const o = s.outgoing;
      const willRestore = s.rejoin && o.byName;
      if (willRestore) s.lostOutgoing = o;
      delete s.outgoing;
      emit(socket, 'interfaceLost', { kind: 'outgoing', interface: o.ifname, index, willRestore });
    }
  }
}

function appeared(index: number, name: string): void {
  for (const [socket, s] of states()) {
    if (socket.closed) continue;
    // A rename: the memberships stay with the device, under its new name.
    for (const h of s.held) if (h.ifindex === index && h.ifname !== name) h.ifname = name;
    if (s.outgoing?.ifindex === index) s.outgoing.ifname = name;
    const back = s.lost.filter((h) => h.ifname === name);
    s.lost = s.lost.filter((h) => h.ifname !== name);
    s.restoring = true;
    try {
      for (const h of back) {
        const info: InterfaceChangeEvent = {
          kind: 'membership',
          interface: name,
          index,
          previousIndex: h.ifindex,
          group: h.group,
          ...(h.source !== null && { source: h.source }),
          blockedSources: [...h.blocked],
        };
        try {
          socket.join(h.group, { interface: name, ...(h.source !== null && { source: h.source }) });
          for (const b of h.blocked) socket.blockSource(h.group, b, { interface: name });
        } catch (error) {
          info.error = error as Error;
        }
        emit(socket, 'interfaceBack', info);
      }
      const o = s.lostOutgoing;
      if (o !== undefined && o.ifname === name) {
        delete s.lostOutgoing;
        const info: InterfaceChangeEvent = { kind: 'outgoing', interface: name, index, previousIndex: o.ifindex };
        try {
          socket.setMulticastInterface(name);
        } catch (error) {
          info.error = error as Error;
        }
        emit(socket, 'interfaceBack', info);
      }
    } finally {
      s.restoring = false;
    }
  }
}

/** After lost notifications (ENOBUFS): compare what is held with the interfaces there are now. */
function resync(): void {
  const gone = new Set<number>();
  for (const [, s] of states()) {
    for (const h of s.held) if (binding.ifIndexToName(h.ifindex) !== h.ifname) gone.add(h.ifindex);
    if (s.outgoing && binding.ifIndexToName(s.outgoing.ifindex) !== s.outgoing.ifname) gone.add(s.outgoing.ifindex);
  }
  for (const index of gone) deleted(index);
  const names = new Set<string>();
  for (const [, s] of states()) {
    for (const h of s.lost) names.add(h.ifname);
    if (s.lostOutgoing) names.add(s.lostOutgoing.ifname);
  }
  for (const name of names) {
    const index = binding.ifNameToIndex(name);
    if (index > 0) appeared(index, name);
  }
}

function onLinkEvents(events: LinkEventRow[], overflow: boolean): void {
  for (const [kind, index, name] of events) {
    if (kind === 1) deleted(index);
    else appeared(index, name);
  }
  if (overflow) resync();
}

/** @internal Whether the rtnetlink watcher is running (tests). */
export function linkWatchRunning(): boolean {
  return watch !== undefined;
}
