/**
 * The test harness in one import (a barrel): hosts (./hosts.ts), links and bridges (./links.ts),
 * captures (./captures.ts), topologies (./topologies.ts), ready-made networks (./networks.ts,
 * ./multihomed.ts) and the tcpdump parsers (./tcpdump.ts). Everything packet-related runs only inside the run-in-netns
 * sandbox. See ./topologies.ts for an example.
 */
export * from './tcpdump.js';
export * from './hosts.js';
export * from './links.js';
export * from './captures.js';
export * from './topologies.js';
export * from './networks.js';
export * from './multihomed.js';
