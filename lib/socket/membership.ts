/**
 * A membership call's arguments (group, optional source, interface by option or IPv6 zone),
 * checked and resolved, with the error context that names all of them.
 */
import type { ErrorContext } from '../errors';
import { resolveInterface, type ResolvedInterface } from '../interfaces';
import { checkGroup, checkKnownKeys, checkOptionsObject, checkSource } from '../validate';
import type { Family, InterfaceRef } from '../types';

const MEMBERSHIP_OPTION_KEYS = ['interface', 'source'] as const;

/** A checked membership request. */
export interface MembershipRequest {
  group: string;
  source: string | undefined;
  iface: ResolvedInterface | undefined;
  context: ErrorContext;
}

/** Checks join/leave/blockSource/unblockSource arguments; `verb` words the error's action. */
export function checkMembership(family: Family, verb: string, groupArg: unknown, sourceArg: unknown, options: unknown): MembershipRequest {
  const o = checkOptionsObject('options', options);
  checkKnownKeys('options', o, MEMBERSHIP_OPTION_KEYS);
  const { group, zone } = checkGroup('group', groupArg, family);
  const source = sourceArg === undefined ? undefined : checkSource('source', sourceArg, family);
  const ref = (o.interface as InterfaceRef | undefined) ?? zone;
  const iface = ref === undefined ? undefined : resolveInterface('options.interface', ref, family);
  const context: ErrorContext = {
    group,
    action: `${verb} ${group}${source !== undefined ? ` from source ${source}` : ''} on ${
      iface?.label ?? 'the interface the kernel picks by route'
    }`,
  };
  if (source !== undefined) context.source = source;
  if (iface !== undefined) context.interface = iface.name;
  return { group, source, iface, context };
}
