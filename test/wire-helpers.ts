/**
 * Helpers of the wire, interop and CLI tests: running the `mcast` command (dist/cli.js) in a
 * host of a topology, reading its output as it comes, scripted Python peers, and reading the
 * membership records of a capture.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import type { ExecOptions, ExecResult, Host, Packet } from './harness/netns.js';

/** The built command (npm test builds dist/ first). */
export const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/** Runs `mcast ARGS...` in `host` to its end. */
export function mcast(host: Host, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return host.exec([process.execPath, CLI, ...args], opts);
}

/** A running program whose stdout lines and stderr text are collected as they come. */
export class Running {
  readonly lines: string[] = [];
  /** All of stdout so far, also an unfinished last line. */
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #partial = '';

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      this.stdout += chunk;
      const parts = (this.#partial + chunk).split('\n');
      this.#partial = parts.pop() ?? '';
      this.lines.push(...parts);
    });
    child.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        if (this.#partial !== '') this.lines.push(this.#partial);
        this.#partial = '';
        resolve({ code, signal });
      });
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits until stderr contains `text` (e.g. the receiver's "listening on" line). */
  async waitStderr(text: string, timeoutMs = 5000): Promise<void> {
    await until(() => this.stderr.includes(text), `"${text}" on stderr`, timeoutMs, () => this.describe());
  }

  /** Waits until stdout has at least `n` lines. */
  async waitLines(n: number, timeoutMs = 5000): Promise<string[]> {
    await until(() => this.lines.length >= n, `${n} lines on stdout`, timeoutMs, () => this.describe());
    return this.lines;
  }

  /** Waits for the end of the program, at most timeoutMs (then kills it and throws). */
  async wait(timeoutMs = 5000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`still running after ${timeoutMs} ms; ${this.describe()}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  describe(): string {
    return `stdout: ${JSON.stringify(this.lines)}, stderr: ${JSON.stringify(this.stderr)}`;
  }
}

/** Starts `mcast ARGS...` in `host`. */
export function spawnMcast(host: Host, args: readonly string[]): Running {
  return new Running(host.spawn([process.execPath, CLI, ...args]));
}

/** Starts any program in `host`. */
export function spawnIn(host: Host, argv: readonly string[]): Running {
  return new Running(host.spawn(argv));
}

/** Polls `condition` every 10 ms until it holds, or throws after timeoutMs. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5000, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `; ${detail()}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Membership records about `group` in captured packets, with the reporting protocol. */
export function recordsOf(packets: readonly Packet[], group: string): { protocol: string; type: string; sources: string[] | null }[] {
  return packets.flatMap((p) =>
    (p.report?.records ?? [])
      .filter((r) => r.group === group)
      .map((r) => ({ protocol: p.report?.protocol ?? '', type: r.type, sources: r.sources })),
  );
}

/** A predicate for Capture.waitFor: a report with a record of `type` for `group`. */
export function reportFor(group: string, type: string): (p: Packet) => boolean {
  return (p) => p.report?.records.some((r) => r.group === group && r.type === type) ?? false;
}

/**
 * python3 -c PY_SEND family group port ifref ttl count message [bind_source]: a plain Python
 * sender. ifref is the outgoing interface: an IPv4 address (IP_MULTICAST_IF) or an IPv6 ifindex.
 */
export const PY_SEND = `
import socket, sys
family, group, port, ifref, ttl, count, message = sys.argv[1:8]
source = sys.argv[8] if len(sys.argv) > 8 else None
if family == '4':
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ifref))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, int(ttl))
else:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, int(ifref))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, int(ttl))
if source:
    s.bind((source, 0))
for i in range(int(count)):
    s.sendto(message.encode(), (group, int(port)))
`;

/**
 * python3 -c PY_RECV group port ifref count seconds [timestamps]: the classic receiver of every
 * tutorial (bind to the port, IP_ADD_MEMBERSHIP with the interface's address; for an IPv6 group,
 * IPV6_JOIN_GROUP with the interface's index as ifref). Prints "ready", then one line
 * "SRC TTL PAYLOAD" per datagram (the TTL or hop limit), and ends after `count` datagrams or
 * `seconds`. With `timestamps`: SO_TIMESTAMPNS and a 4 MiB buffer, and the lines are
 * "KERNEL_NS HEX_PAYLOAD" (the kernel's receive time in ns since the epoch).
 */
export const PY_RECV = `
import socket, struct, sys, time
group, port, ifref, count, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
stamped = len(sys.argv) > 6 and sys.argv[6] == 'timestamps'
SO_TIMESTAMPNS = 35
if ':' in group:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, 51, 1)  # IPV6_RECVHOPLIMIT
    s.bind(('', port))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(socket.AF_INET6, group) + struct.pack('@I', int(ifref)))
    ttl_cmsg = (socket.IPPROTO_IPV6, 52)  # IPV6_HOPLIMIT
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IP, 12, 1)  # IP_RECVTTL
    s.bind(('', port))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack('4s4s', socket.inet_aton(group), socket.inet_aton(ifref)))
    ttl_cmsg = (socket.IPPROTO_IP, 2)  # IP_TTL
if stamped:
    s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
print('ready', flush=True)
end = time.time() + seconds
got = 0
while got < count and time.time() < end:
    s.settimeout(max(0.01, end - time.time()))
    try:
        data, anc, flags, addr = s.recvmsg(65535, 1024)
    except socket.timeout:
        break
    if stamped:
        ts = next((struct.unpack('qq', d[:16]) for l, t, d in anc if l == socket.SOL_SOCKET and t == SO_TIMESTAMPNS), (0, 0))
        print(ts[0] * 1000000000 + ts[1], data.hex(), flush=True)
    else:
        ttl = next((struct.unpack('i', d[:4])[0] for l, t, d in anc if (l, t) == ttl_cmsg), -1)
        print(addr[0], ttl, data.decode(), flush=True)
    got += 1
`;

/** python3 -c PY_SIZES group port ifaddr count seconds: prints "ready", then "SIZE FIRST LAST" per datagram. */
export const PY_SIZES = `
import socket, struct, sys, time
group, port, ifaddr, count, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind(('', port))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, struct.pack('4s4s', socket.inet_aton(group), socket.inet_aton(ifaddr)))
print('ready', flush=True)
end = time.time() + seconds
got = 0
while got < count and time.time() < end:
    s.settimeout(max(0.01, end - time.time()))
    try:
        data = s.recv(65535)
    except socket.timeout:
        break
    ok = data == bytes([data[0]]) * len(data) if data else True
    print(len(data), data[0] if data else -1, 'ok' if ok else 'mixed', flush=True)
    got += 1
`;
