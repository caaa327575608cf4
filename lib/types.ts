/**
 * Public types of mcast. These are the documentation users read first: every option says what
 * it does, what the default is and which socket option it maps to.
 */

/** Address family of a socket: 4 (AF_INET) or 6 (AF_INET6). */
export type Family = 4 | 6;

/**
 * An interface reference, accepted wherever mcast asks for an interface:
 * - a name (`'eth1'`, at most 15 bytes),
 * - an address assigned to the interface (`'10.0.1.2'`, `'fe80::1'`),
 * - an interface index (`3`), as `ip link` and `if_nametoindex(3)` number them.
 */
export type InterfaceRef = string | number;

/** Options of {@link createSocket}. Every option is validated before any system call is made. */
export interface SocketOptions {
  /** 4 for IPv4 (default), 6 for IPv6. An IPv6 socket is IPV6_V6ONLY. */
  family?: Family;
  /** Local port to bind (0 = ephemeral, the default). The socket is bound synchronously. */
  port?: number;
  /**
   * Local address to bind; the wildcard (`0.0.0.0` / `::`) by default. An IPv6 address may carry
   * its zone, an interface name or index (`fe80::1%eth0`, `fe80::1%3`): a link-local address needs one.
   */
  address?: string;
  /** SO_REUSEADDR, default true: several receivers of one group may share a port. */
  reuseAddr?: boolean;
  /** SO_REUSEPORT, default false: the kernel load-balances datagrams among the sockets. */
  reusePort?: boolean;
  /**
   * IP_MULTICAST_ALL / IPV6_MULTICAST_ALL. Default **false** (the kernel default is true): the
   * socket receives only the (group, interface) pairs that it joined itself. With `true`, any
   * socket bound to the port receives every group joined by any socket of the host.
   */
  multicastAll?: boolean;
  /**
   * IPV6_V6ONLY, family 6 only. Default true: the socket takes IPv6 traffic alone. With false
   * the kernel default stays (net.ipv6.bindv6only, normally dual-stack: IPv4 peers then show as
   * `::ffff:a.b.c.d`).
   */
  ipv6Only?: boolean;
  /** SO_RCVBUF in bytes (SO_RCVBUFFORCE when the process may). Warns once if the kernel grants less. */
  recvBufferSize?: number;
  /** SO_SNDBUF in bytes (SO_SNDBUFFORCE when the process may). Warns once if the kernel grants less. */
  sendBufferSize?: number;
  /** Datagrams read per recvmmsg call, 1 to 1024 (default 64). */
  batchSize?: number;
  /**
   * Bytes kept per datagram, 1 to 65535 (default 2048). A longer datagram is delivered cut to
   * this size, flagged as truncated and counted in `stats().truncated`: never silently cut.
   */
  maxMessageSize?: number;
  /** SO_TIMESTAMPNS: the kernel's receive time of each datagram, in ns (default false). */
  timestamps?: boolean;
  /**
   * IP_RECVTTL / IPV6_RECVHOPLIMIT: the TTL / hop limit each datagram arrived with, as
   * `info.ttl` and `batch.ttl(i)` (default false: the extra control message costs the kernel's
   * receive path a few percent, so it is asked for only when wanted).
   */
  receiveTTL?: boolean;
  /**
   * Whether the kernel reports each datagram's source address and port (default true). `false`
   * is for a receiver that never looks at the source (one sender per group, or the sender named
   * in the payload): the kernel then copies no address per datagram, about 4–8% of a 64-byte
   * drain's receive cost here. Such a socket has no source to report, and says so rather than
   * guess: `batch.address(i)` and `batch.port(i)` throw `ERR_MCAST_NO_SOURCE_ADDRESS`, and adding
   * a 'message' listener (whose info carries the source) throws it too. Every other field
   * (destination, interface, sizes, TTL, timestamp, drop counts) is as with the default.
   */
  sourceAddress?: boolean;
  /** IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS, 0 to 255 (kernel default 1). */
  ttl?: number;
  /** IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP (kernel default true). */
  loopback?: boolean;
  /** Outgoing interface for multicast (IP_MULTICAST_IF with an index / IPV6_MULTICAST_IF). */
  interface?: InterfaceRef;
  /**
   * SO_BINDTODEVICE: the socket receives only what arrives on this device and sends only out of
   * it. A name or an index; a VRF's name (an `ip link add NAME type vrf` master) puts the socket
   * in that VRF: it receives from the VRF's interfaces, its routes are the VRF's table, and its
   * joins and outgoing interface name the VRF's interfaces. Needs CAP_NET_RAW.
   * @example createSocket({ port: 5000, bindToDevice: 'vrf-red' }).join('239.1.2.3', { interface: 'eth1' })
   */
  bindToDevice?: string | number;
  /**
   * Default true: when an interface that holds a membership made by interface *name* (or the
   * outgoing interface set by name) is deleted and an interface of that name appears again, join
   * again there, with the same source and blocked sources ('interfaceBack'). Either way the loss
   * is reported ('interfaceLost'); memberships made by index or address are never redone.
   */
  rejoin?: boolean;
  /**
   * A bound UDP socket of `family` to use instead of binding one, such as the socket a Node
   * cluster primary shares with its workers: mcast works on a duplicate of the descriptor (the
   * original stays open with its owner; both are the same socket). `port`, `address`,
   * `reuseAddr`, `reusePort` and `ipv6Only` are the owner's then. EINVAL when it is no UDP
   * socket of that family.
   */
  fd?: number;
  /**
   * UDP segmentation offload for sendBatch/sendAll, default true: each run of consecutive
   * datagrams of one size to the destination (the last may be shorter) leaves as one
   * UDP_SEGMENT message of up to 64 KiB, which the kernel or the device cuts into the same
   * datagrams. 30–57× less sender CPU per datagram measured here. Where the kernel or device
   * refuses it (EIO, EINVAL, ENOTSUP: e.g. no checksum offload, a datagram larger than the
   * path MTU), the socket falls back to sendmmsg for good, without losing or repeating a
   * datagram, and counts it in `stats().segmentationFallbacks`. A datagram larger than the
   * route's MTU (EMSGSIZE) is sent alone from then on, fragmented as usual. A block sent
   * with `sendBatch(block, address, port, segmentSize)` is one such run, sent from the block
   * in place (no per-datagram work in JavaScript). The segments leave
   * back to back: send smaller batches where bursts matter. Turn it off on links shaped by a
   * qdisc that cuts GSO packets itself (tbf with a burst below the message size, cake,
   * taprio): such a qdisc drops the segments that do not fit without telling the sender,
   * where plain sends would see ENOBUFS.
   */
  gso?: boolean;
  /**
   * UDP_GRO, default false: the kernel may hand one receive several datagrams of one flow
   * merged (from a same-host GSO sender over `lo`, or a NIC / veth with GRO that coalesces).
   * mcast splits them again: 'batch' and 'message' see the datagrams as sent, each with its own
   * offset and size and the shared metadata. Costs 64 KiB per receive slot (batchSize × 64 KiB)
   * and helps only constant-size streams; see the README (GRO) for when it hurts.
   * @throws ENOPROTOOPT naming setsockopt(UDP_GRO) where the kernel lacks it
   */
  gro?: boolean;
  /**
   * SO_BUSY_POLL in µs, 0 to 1000000: an empty receive polls the device queue for up to this
   * long before it sleeps or returns (lower latency, a whole core; see receiveSync). It needs a
   * device with NAPI (a NIC; a veth with GRO on). Raising it above the kernel's default
   * (net.core.busy_read) may need CAP_NET_ADMIN: a refusal says so.
   */
  busyPoll?: number;
  /**
   * SO_PREFER_BUSY_POLL, default false: the device's interrupts stay off while this socket busy
   * polls. Needs CAP_NET_ADMIN (refused with EPERM otherwise, and the error says so).
   */
  preferBusyPoll?: boolean;
}

/** Options of join, leave, blockSource and unblockSource. */
export interface MembershipOptions {
  /**
   * Interface to join on. Strongly recommended on a multi-homed host: without it the kernel
   * picks the interface of the route to the group (and fails with ENODEV when there is none).
   */
  interface?: InterfaceRef;
  /** Source-specific join (SSM, MCAST_JOIN_SOURCE_GROUP): only this unicast source is received. */
  source?: string;
}

/** What the 'message' event tells about a datagram. */
export interface MessageInfo {
  /** Source address. */
  address: string;
  /** Source port. */
  port: number;
  /** Address family of the source address. */
  family: 'IPv4' | 'IPv6';
  /** Bytes delivered (at most maxMessageSize). */
  size: number;
  /** The datagram's real size on the wire (> size when truncated). */
  originalSize: number;
  /** True when the datagram was longer than maxMessageSize and was cut. */
  truncated: boolean;
  /** Destination address of the datagram (the group), from IP_PKTINFO / IPV6_PKTINFO. */
  destination: string;
  /** Index of the interface the datagram arrived on. */
  interfaceIndex: number;
  /** IP TTL / IPv6 hop limit the datagram arrived with, when the socket has `receiveTTL: true`. */
  ttl?: number;
  /** Kernel receive time in ns since the Unix epoch, when the socket has `timestamps: true`. */
  timestamp?: bigint;
}

/**
 * One recvmmsg result, handed to 'batch' listeners. Zero copy: every accessor reads the receive
 * slab or the metadata arrays that the addon fills in place. **Valid during the callback only**:
 * the next batch overwrites it (after the callback `count` reads 0). Copy what you keep.
 */
export interface RecvBatch {
  /** Datagrams in this batch. */
  readonly count: number;
  /** The whole receive slab; datagram i occupies `buffer[offset(i) .. offset(i) + size(i)]`. */
  readonly buffer: Buffer;
  /** Address family of the socket, and so of every address in the batch. */
  readonly family: Family;
  /** Start of datagram i in `buffer` (allocates nothing). */
  offset(i: number): number;
  /** Bytes of datagram i in `buffer` (allocates nothing). */
  size(i: number): number;
  /** Real size of datagram i on the wire. */
  originalSize(i: number): number;
  /** True when datagram i was cut to maxMessageSize. */
  truncated(i: number): boolean;
  /** A view (not a copy) of datagram i. */
  data(i: number): Buffer;
  /**
   * Source address of datagram i (formatted strings are cached per source). Throws
   * `ERR_MCAST_NO_SOURCE_ADDRESS` on a socket created with `sourceAddress: false`.
   */
  address(i: number): string;
  /** Source port of datagram i. Throws as address(i) does, with `sourceAddress: false`. */
  port(i: number): number;
  /** Destination (group) address of datagram i. */
  destination(i: number): string;
  /** Arrival interface index of datagram i. */
  interfaceIndex(i: number): number;
  /** TTL / hop limit datagram i arrived with, or undefined without `receiveTTL: true`. */
  ttl(i: number): number | undefined;
  /**
   * The socket's cumulative count of datagrams the kernel dropped (SO_RXQ_OVFL) at the moment
   * datagram i was queued: the difference between two datagrams' counts is exactly how many were
   * dropped between them, so each gap in a sequence-numbered stream can be explained.
   */
  dropCount(i: number): number;
  /** Kernel receive time of datagram i in ns, or undefined without `timestamps: true`. */
  timestamp(i: number): bigint | undefined;
}

/** Counters since the socket was created. */
export interface SocketStats {
  /** Datagrams delivered to 'batch' / 'message' (filtered ones not counted). */
  packetsReceived: number;
  /** Payload bytes of those datagrams, as delivered (at most maxMessageSize each). */
  bytesReceived: number;
  /** recvmmsg calls that returned at least one datagram. */
  batches: number;
  /** Datagrams longer than maxMessageSize (delivered cut and flagged). */
  truncated: number;
  /**
   * The kernel's count of datagrams dropped on this socket's queue (SO_RXQ_OVFL with each
   * datagram, and SO_MEMINFO when stats() is called, so drops after the last datagram count too).
   */
  kernelDrops: number;
  /** Datagrams the kernel accepted from send, sendBatch and sendAll. */
  packetsSent: number;
  /** Payload bytes of those datagrams. */
  bytesSent: number;
  /**
   * Send calls that found no room: the socket's send buffer (EAGAIN) or the device queue
   * (ENOBUFS, which mcast sees because it sets IP_RECVERR). Those datagrams were not sent and
   * send/sendBatch said so in their return value.
   */
  sendWouldBlock: number;
  /** ICMP errors the kernel reported about datagrams this socket sent (IP_RECVERR error queue). */
  sendErrors: number;
  /** UDP_SEGMENT messages sent (each carries a run of datagrams; see SocketOptions.gso). */
  segmentedSends: number;
  /** Times the kernel or the device refused UDP_SEGMENT and the socket fell back to sendmmsg. */
  segmentationFallbacks: number;
  /** Receives that carried several datagrams merged by the kernel (SocketOptions.gro). */
  groReceives: number;
  /** Datagrams that arrived merged in those receives (split again before delivery). */
  groDatagrams: number;
  /**
   * IPv6 only: datagrams of a group this socket joined on another interface, dropped by mcast.
   * Linux matches IPv6 multicast by group alone, so mcast checks the arrival interface itself
   * (with multicastAll off, the default).
   */
  filtered: number;
}

/** One address of an interface. */
export interface InterfaceAddress {
  /** Address family. */
  family: 'IPv4' | 'IPv6';
  /** The address, without a zone (`10.0.1.2`, `fe80::1`). */
  address: string;
  /** Its netmask (`255.255.255.0`, `ffff:ffff:ffff:ffff::`). */
  netmask: string;
  /** IPv6 scope id (the interface index for link-local addresses), 0 otherwise. */
  scopeId: number;
}

/** One network interface, from getifaddrs(3) and if_nametoindex(3). */
export interface InterfaceInfo {
  /** Interface name (`eth1`), usable wherever an interface is asked for. */
  name: string;
  /** Interface index, as `ip link` numbers it. */
  index: number;
  /** IFF_UP: administratively up. */
  up: boolean;
  /** IFF_MULTICAST: the interface supports multicast. */
  multicast: boolean;
  /** IFF_LOOPBACK. */
  loopback: boolean;
  /** Its IPv4 and IPv6 addresses. */
  addresses: InterfaceAddress[];
}

/** The address a socket is bound to. */
export interface BoundAddress {
  /** Local address (the wildcard `0.0.0.0` / `::` when bound to all). */
  address: string;
  /** Address family. */
  family: 'IPv4' | 'IPv6';
  /** Local port (the one the kernel chose, when 0 was asked for). */
  port: number;
}

/**
 * Data accepted by send and sendBatch's list. (sendBatch also takes one Uint8Array block with a
 * segment size: see Socket#sendBatch.)
 */
export type SendData = Buffer | Uint8Array | string;

/**
 * sendBatch()'s gather form: datagrams at offsets inside one buffer, as a capture file's block
 * holds them (headers between the payloads). Datagram i is
 * `bytes.subarray(offsets[i], offsets[i] + lengths[i])`, for i from 0 to `count - 1`; the
 * kernel reads them in place (no copy). The arrays may be longer than `count`, so that a sender
 * can keep one set and fill a prefix of it per call.
 */
export interface SendGather {
  /** The buffer the datagrams lie in. */
  readonly bytes: Uint8Array;
  /** Where each datagram starts in `bytes`. */
  readonly offsets: Uint32Array;
  /** Each datagram's length in bytes (0 to the family's largest UDP payload). */
  readonly lengths: Uint32Array;
  /**
   * How many datagrams to send, from index 0: 1 to the length of `offsets` and of `lengths`.
   * Default: their length, which must then be the same.
   */
  readonly count?: number;
}
