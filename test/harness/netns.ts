/**
 * Network topologies for tests, built only inside the run-in-netns sandbox.
 *
 *   const net = await Topology.create('mh');        // refuses to run outside the sandbox
 *   const pa = await net.host('pa');                 // a peer host: a new network namespace
 *   const link = await net.link(net.self, 'mca0', pa, 'mcpa0', {
 *     selfAddr: '10.1.1.1/24', peerAddr: '10.1.1.2/24',
 *   });                                              // veth pair, both ends up, IPv6 link-local ready
 *   await pa.exec(['python3', '-c', '...']);        // {code, signal, stdout, stderr, timedOut}
 *   const child = pa.spawn(['node', 'dist/cli.js', 'recv']);
 *   const cap = await net.capture(link.self, 'igmp'); // tcpdump, listening when this resolves
 *   const pkt = await cap.waitFor((p) => p.report !== null);
 *   const { lines, packets } = await cap.stop();
 *   await net.destroy();                             // idempotent; also run automatically
 *
 * `net.self` is the sandbox namespace the test process runs in. A peer host is a network + mount
 * namespace held open by a holder process (`unshare --net --mount`, under `setpriv --pdeathsig
 * KILL`, which also exits when its stdin closes): it cannot outlive the test process. Commands run
 * in a peer through `nsenter --net=FD --mount=FD`, where FD are descriptors of the namespaces
 * opened once, right after the holder proved it is in them (no PID that could be reused). Each peer
 * mounts its own sysfs, so /sys/class/net is right inside it.
 *
 * Teardown: a topology made inside a test is destroyed when that test finishes; one made in a
 * hook or at file level is destroyed by the setup file's afterAll; all are killed at exit.
 *
 * Interface names must start with `mc` (the sandbox check refuses others) and have at most 15
 * characters. Veth ends get accept_dad=0 and router_solicitations=0 before they go up, so their
 * IPv6 link-local address is usable at once and captures are not cluttered by solicitations.
 */
import { spawn, type ChildProcess, type IOType } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { delimiter, join } from 'node:path';
import { onTestFinished } from 'vitest';
import { assertSandboxed, HARNESS_IFACE_PREFIX } from './sandbox.js';
import { parseTcpdump, type Packet } from './tcpdump.js';

export * from './tcpdump.js';

export interface ExecResult {
  /** Exit code, or null when the command was ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** True when the command was killed because it ran past timeoutMs. */
  timedOut: boolean;
}

export interface ExecOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: string | Buffer;
  /** Kill the command (SIGKILL) after this long; default 20000 ms. */
  timeoutMs?: number;
  /** Throw unless the command exits with code 0. */
  check?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Working directory; default process.cwd(). */
  cwd?: string;
}

export interface HostSpawnOptions {
  /** stdin, stdout, stderr; default 'pipe' for each. */
  stdio?: IOType | [IOType, IOType, IOType];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LinkOptions {
  /** Address (CIDR, IPv4 or IPv6) of the first host's end ("self" side of the link). */
  selfAddr?: string;
  /** Address (CIDR, IPv4 or IPv6) of the second host's end ("peer" side of the link). */
  peerAddr?: string;
  /** An extra IPv6 global address (CIDR) of the first end (added with nodad). */
  selfAddr6?: string;
  /** An extra IPv6 global address (CIDR) of the second end (added with nodad). */
  peerAddr6?: string;
  mtu?: number;
}

/** One end of a veth link. */
export interface Endpoint {
  host: Host;
  ifname: string;
  ifindex: number;
  /** IPv4 address without prefix length, when one was given. */
  addr4: string | null;
  /** IPv6 global address without prefix length, when one was given. */
  addr6: string | null;
  /** IPv6 link-local address (fe80::...), without scope. */
  linkLocal: string;
}

export interface Link {
  /** The end in the first host given to net.link(). */
  self: Endpoint;
  /** The end in the second host given to net.link(). */
  peer: Endpoint;
}

export interface CaptureOptions {
  /** tcpdump -c: stop after this many packets. */
  count?: number;
  /** Stop on its own after this long. */
  timeoutMs?: number;
  /** 1 = -v, 2 = -vv (default; group records list their sources), 3 = -vvv. */
  verbosity?: 1 | 2 | 3;
  /** How long to wait for tcpdump's "listening on"; default 10000 ms. */
  readyTimeoutMs?: number;
}

export interface CaptureResult {
  /** tcpdump's stdout, one packet line per entry (continuation lines are separate entries). */
  lines: string[];
  packets: Packet[];
  stderr: string;
}

const IFNAME = /^[A-Za-z0-9_-]{1,15}$/;
const SETPRIV = onPath('setpriv');
const HOLDER_SCRIPT =
  'mount -t sysfs -o nosuid,nodev,noexec sysfs /sys && ip link set lo up && echo ready && exec cat >/dev/null';

function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, name)));
}

/** Commands that must die with this process run under `setpriv --pdeathsig KILL`. */
function withPdeathsig(argv: readonly string[]): string[] {
  return SETPRIV ? ['setpriv', '--pdeathsig', 'KILL', '--', ...argv] : [...argv];
}

function checkIfname(name: string): void {
  if (!IFNAME.test(name) || !name.startsWith(HARNESS_IFACE_PREFIX)) {
    throw new Error(
      `interface name ${JSON.stringify(name)}: must start with "${HARNESS_IFACE_PREFIX}" and have at most 15 characters [A-Za-z0-9_-]`,
    );
  }
}

function stripPrefix(cidr: string): string {
  return cidr.split('/')[0] ?? cidr;
}

function sysctlPath(key: string): string {
  if (!/^[A-Za-z0-9_./-]+$/.test(key) || key.includes('..')) throw new Error(`bad sysctl key ${key}`);
  // net.ipv4.conf.mca0.rp_filter or net/ipv4/conf/mca0/rp_filter
  return `/proc/sys/${key.includes('/') ? key : key.replace(/\./g, '/')}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs argv with the given extra descriptors (fd 3, 4, ...) and collects its output. */
function runCollect(argv: readonly string[], extraFds: readonly number[], opts: ExecOptions): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (!file) return Promise.reject(new Error('empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe', ...extraFds],
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? process.cwd(),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 20_000);
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.stdin?.on('error', () => {});
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

interface IpAddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  scope: string;
  tentative?: boolean;
}

/** A network namespace: the sandbox itself (net.self) or a peer host. */
export class Host {
  /** Children started with spawn(), killed by destroy(). */
  readonly children = new Set<ChildProcess>();
  private closed = false;

  /** @internal Use Topology.host(); net.self is made by Topology.create(). */
  constructor(
    readonly name: string,
    /** The holder process of a peer host; null for net.self. */
    private readonly holder: ChildProcess | null,
    /** Descriptors of the peer's network and mount namespaces (empty for net.self). */
    private readonly nsFds: readonly number[],
    /** Network namespace inode. */
    readonly netnsInode: number,
  ) {}

  get isSelf(): boolean {
    return this.holder === null;
  }

  /** PID of the holder process of a peer host; null for net.self. */
  get pid(): number | null {
    return this.holder?.pid ?? null;
  }

  /** The argv prefix that runs a command in this host (nothing for net.self). */
  private prefix(cwd: string | undefined): string[] {
    if (this.closed) throw new Error(`host ${this.name} is destroyed`);
    if (this.isSelf) return [];
    return ['nsenter', '--net=/proc/self/fd/3', '--mount=/proc/self/fd/4', `--wd=${cwd ?? process.cwd()}`, '--'];
  }

  /** Runs a command in this host and collects its output. Never throws for a non-zero exit unless opts.check. */
  async exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.execWithNs(() => [...argv], [], opts);
  }

  /**
   * @internal Runs build(paths) in this host, where paths are /proc/self/fd/N paths that name the
   * network namespaces of the peer hosts `others` inside the command.
   */
  async execWithNs(build: (paths: string[]) => string[], others: readonly Host[], opts: ExecOptions = {}): Promise<ExecResult> {
    const fds = others.map((h) => h.netFd());
    const base = 3 + this.nsFds.length;
    const inner = build(fds.map((_, i) => `/proc/self/fd/${base + i}`));
    const r = await runCollect([...this.prefix(opts.cwd), ...inner], [...this.nsFds, ...fds], opts);
    if (opts.check && (r.code !== 0 || r.timedOut)) {
      throw new Error(
        `[${this.name}] ${inner.join(' ')} failed (${r.timedOut ? 'timed out' : (r.signal ?? `code ${r.code}`)}): ${r.stderr.trim() || r.stdout.trim()}`,
      );
    }
    return r;
  }

  /** @internal The network namespace descriptor of a peer host. */
  netFd(): number {
    if (this.isSelf) throw new Error('net.self has no namespace descriptor');
    const fd = this.nsFds[0];
    if (fd === undefined || this.closed) throw new Error(`host ${this.name} is destroyed`);
    return fd;
  }

  /**
   * Starts a long-running command in this host. It runs under `setpriv --pdeathsig KILL` (it dies
   * with the test process) and is killed by net.destroy(). Its PID is the command's own.
   */
  spawn(argv: readonly string[], opts: HostSpawnOptions = {}): ChildProcess {
    if (argv.length === 0) throw new Error('empty command');
    const [file, ...args] = withPdeathsig([...this.prefix(opts.cwd), ...argv]);
    const s = opts.stdio ?? 'pipe';
    const stdio: IOType[] = Array.isArray(s) ? [...s] : [s, s, s];
    const child = spawn(file ?? '', args, {
      stdio: [...stdio, ...this.nsFds],
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? process.cwd(),
    });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    child.on('error', () => this.children.delete(child));
    return child;
  }

  /** `ip ARGS...` in this host; throws on failure; returns stdout. */
  async ip(...args: string[]): Promise<string> {
    return (await this.exec(['ip', ...args], { check: true })).stdout;
  }

  /** `python3 -c CODE ARGS...` in this host. */
  async python(code: string, args: readonly string[] = [], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.exec(['python3', '-c', code, ...args], opts);
  }

  /** Writes a sysctl of this host's namespace: `net.ipv4.igmp_max_memberships` or a /-path below /proc/sys. */
  async sysctl(key: string, value: string | number): Promise<void> {
    await this.exec(['tee', sysctlPath(key)], { input: `${value}\n`, check: true });
  }

  async readSysctl(key: string): Promise<string> {
    return (await this.exec(['cat', sysctlPath(key)], { check: true })).stdout.trim();
  }

  /** Adds an address (CIDR). IPv6 addresses are added with nodad (usable at once). */
  async addAddress(ifname: string, cidr: string): Promise<void> {
    const v6 = isIP(stripPrefix(cidr)) === 6;
    if (isIP(stripPrefix(cidr)) === 0) throw new Error(`not an address: ${cidr}`);
    await this.ip(...(v6 ? ['-6', 'addr', 'add', cidr, 'dev', ifname, 'nodad'] : ['addr', 'add', cidr, 'dev', ifname]));
  }

  /** `ip route add 224.0.0.0/4 dev IF` (or another multicast prefix, IPv6 too). */
  async addMulticastRoute(ifname: string, prefix = '224.0.0.0/4'): Promise<void> {
    const v6 = isIP(stripPrefix(prefix)) === 6;
    await this.ip(...(v6 ? ['-6'] : []), 'route', 'add', prefix, 'dev', ifname);
  }

  /** Interface names of this host. */
  async interfaces(): Promise<string[]> {
    const links = JSON.parse(await this.ip('-j', 'link', 'show')) as Array<{ ifname: string }>;
    return links.map((l) => l.ifname);
  }

  async ifindex(ifname: string): Promise<number> {
    const links = JSON.parse(await this.ip('-j', 'link', 'show', 'dev', ifname)) as Array<{ ifindex: number }>;
    const idx = links[0]?.ifindex;
    if (idx === undefined) throw new Error(`[${this.name}] no interface ${ifname}`);
    return idx;
  }

  /** The addresses of an interface, from `ip -j addr`. */
  async addresses(ifname: string): Promise<IpAddrInfo[]> {
    const info = JSON.parse(await this.ip('-j', 'addr', 'show', 'dev', ifname)) as Array<{ addr_info?: IpAddrInfo[] }>;
    return info[0]?.addr_info ?? [];
  }

  /** The interface's IPv6 link-local address, waiting (up to timeoutMs) until it is usable. */
  async linkLocal(ifname: string, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ll = (await this.addresses(ifname)).find(
        (a) => a.family === 'inet6' && a.scope === 'link' && a.tentative !== true,
      );
      if (ll) return ll.local;
      if (Date.now() > deadline) throw new Error(`[${this.name}] ${ifname} has no usable IPv6 link-local address`);
      await sleep(50);
    }
  }

  /** @internal */
  async close(): Promise<void> {
    if (this.closed) return;
    const waits: Array<Promise<void>> = [];
    for (const child of this.children) waits.push(killAndWait(child));
    await Promise.all(waits);
    if (this.holder) {
      // Everything still running in this namespace (grandchildren of spawn()) goes too.
      for (const pid of pidsInNetns(this.netnsInode)) {
        if (pid !== this.holder.pid) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone
          }
        }
      }
      this.holder.stdin?.end();
      await killAndWait(this.holder);
    }
    this.closed = true;
    for (const fd of this.nsFds) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  }

  /** @internal Synchronous last-resort cleanup at process exit. */
  killNow(): void {
    for (const child of this.children) child.kill('SIGKILL');
    this.holder?.kill('SIGKILL');
  }
}

function killAndWait(child: ChildProcess, timeoutMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGKILL');
  });
}

/**
 * True when this process is root of the initial user namespace (uid 0 maps to uid 0). Under a
 * rootless sandbox (`unshare --map-root-user`) tcpdump cannot run: it insists on dropping root to
 * its own user, which such a namespace cannot map. Tests that capture use
 * `it.skipIf(!captureAvailable())`.
 */
export function captureAvailable(): boolean {
  let ok = false;
  try {
    const map = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
    ok = map[0] === '0' && map[1] === '0';
  } catch {
    ok = false;
  }
  // CI runs as root and must run every packet test: a skip there would hide a broken setup.
  if (!ok && process.env.CI) throw new Error('CI must run the capture tests, but this is not real root (tcpdump cannot run)');
  return ok;
}

/** PIDs whose network namespace has this inode (like `ip netns pids`). */
export function pidsInNetns(inode: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/net`) === `net:[${inode}]`) pids.push(Number(entry));
    } catch {
      // exited, or not ours to look at
    }
  }
  return pids;
}

/** A running tcpdump. */
export class Capture {
  readonly lines: string[] = [];
  private stderrText = '';
  private partial = '';
  private lastDataAt = 0;
  private readonly exited: Promise<void>;
  private waiters = new Set<() => void>();
  private settleTimer: NodeJS.Timeout | null = null;
  private autoStop: NodeJS.Timeout | null = null;

  /** @internal Use Topology.capture(). */
  constructor(
    private readonly child: ChildProcess,
    readonly endpoint: { host: Host; ifname: string },
    readonly filter: string,
  ) {
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
      this.lastDataAt = Date.now();
      this.notify();
    });
    child.stderr?.on('data', (chunk: string) => {
      this.stderrText += chunk;
    });
    this.exited = new Promise((resolve) => {
      child.once('close', () => {
        if (this.partial !== '') this.lines.push(this.partial);
        this.partial = '';
        if (this.autoStop) clearTimeout(this.autoStop);
        this.notify(true);
        resolve();
      });
    });
  }

  /** @internal */
  async waitListening(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.stderrText.includes('listening on')) {
      if (!this.running || Date.now() > deadline) {
        this.child.kill('SIGKILL');
        let hint = '';
        if (this.stderrText.includes("Couldn't change to")) {
          hint =
            ' (tcpdump drops root to its own user, which an unprivileged user namespace cannot do: run the tests as root)';
        }
        throw new Error(
          `tcpdump on ${this.endpoint.host.name}/${this.endpoint.ifname} did not start${hint}: ${this.stderrText.trim()}`,
        );
      }
      await sleep(20);
    }
  }

  /** @internal */
  setTimeout(ms: number): void {
    this.autoStop = setTimeout(() => void this.stop(), ms);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** Packets captured so far (the last one may still be missing its continuation lines). */
  packets(): Packet[] {
    return parseTcpdump(this.lines);
  }

  private notify(final = false): void {
    // A packet's continuation lines may arrive in a later chunk: evaluate the trailing packet
    // again once the output has been quiet for a moment.
    for (const w of this.waiters) w();
    if (this.settleTimer) clearTimeout(this.settleTimer);
    if (!final) {
      this.settleTimer = setTimeout(() => {
        for (const w of this.waiters) w();
      }, 50);
    }
  }

  /**
   * Resolves with the first captured packet (already captured or coming) for which pred holds;
   * rejects after timeoutMs or when tcpdump ends without one.
   */
  waitFor(pred: (p: Packet) => boolean, timeoutMs = 10_000): Promise<Packet> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `no matching packet within ${timeoutMs} ms on ${this.endpoint.host.name}/${this.endpoint.ifname} (${this.filter}); captured:\n${this.lines.join('\n')}`,
          ),
        );
      }, timeoutMs);
      const check = (): void => {
        let packets = this.packets();
        // The last packet may still lack continuation lines: it counts only once the output has
        // been quiet for a moment or tcpdump has ended.
        if (this.running && Date.now() - this.lastDataAt < 40) packets = packets.slice(0, -1);
        const found = packets.find(pred);
        if (found) {
          this.waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        } else if (!this.running && this.partial === '') {
          this.waiters.delete(check);
          clearTimeout(timer);
          reject(new Error(`tcpdump ended without a matching packet; captured:\n${this.lines.join('\n')}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Stops tcpdump (SIGINT, so it flushes) and returns everything it printed. */
  async stop(): Promise<CaptureResult> {
    if (this.running) {
      this.child.kill('SIGINT');
      const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await this.exited;
      clearTimeout(t);
    } else {
      await this.exited;
    }
    return this.result();
  }

  /** Resolves when tcpdump ends on its own (count reached, timeout) or is stopped. */
  async done(): Promise<CaptureResult> {
    await this.exited;
    return this.result();
  }

  private result(): CaptureResult {
    return { lines: [...this.lines], packets: this.packets(), stderr: this.stderrText };
  }
}

const live = new Set<Topology>();
let exitHookInstalled = false;

/** Destroys every topology still alive (the setup file calls this in afterAll). */
export async function destroyAllTopologies(): Promise<void> {
  await Promise.all([...live].map((t) => t.destroy()));
}

export interface TopologyOptions {
  /**
   * Register net.destroy() with onTestFinished when created inside a test (default true).
   * Topologies made in hooks or at file level are destroyed by the setup file's afterAll.
   */
  autoDestroy?: boolean;
}

export class Topology {
  readonly hosts: Host[] = [];
  readonly links: Link[] = [];
  private readonly captures = new Set<Capture>();
  /** Interfaces made in the sandbox namespace: they outlive the peers, so destroy() deletes them. */
  private readonly selfIfnames: string[] = [];
  private destroying: Promise<void> | null = null;

  private constructor(
    readonly prefix: string,
    /** The sandbox namespace this test process runs in. */
    readonly self: Host,
  ) {}

  /** Makes a topology; throws unless this process is inside the run-in-netns sandbox. */
  static async create(prefix: string, opts: TopologyOptions = {}): Promise<Topology> {
    assertSandboxed();
    if (!/^[A-Za-z0-9]{1,8}$/.test(prefix)) throw new Error(`topology prefix ${prefix}: 1 to 8 letters or digits`);
    const self = new Host('self', null, [], statSync('/proc/self/ns/net').ino);
    const net = new Topology(prefix, self);
    live.add(net);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.once('exit', () => {
        for (const t of live) for (const h of t.hosts) h.killNow();
      });
    }
    if (opts.autoDestroy !== false) {
      try {
        onTestFinished(() => net.destroy());
      } catch {
        // not inside a test: the setup file's afterAll destroys it
      }
    }
    return net;
  }

  /** `mc` + prefix + suffix, checked to fit in 15 characters: a unique-looking interface name. */
  ifname(suffix: string): string {
    const name = `${HARNESS_IFACE_PREFIX}${this.prefix}${suffix}`;
    checkIfname(name);
    return name;
  }

  /** Makes a peer host: a new network namespace with `lo` up and nothing else. */
  async host(name: string): Promise<Host> {
    this.assertAlive();
    const argv = withPdeathsig(['unshare', '--net', '--mount', '--propagation', 'private', '--', 'sh', '-c', HOLDER_SCRIPT]);
    const holder = spawn(argv[0] ?? 'unshare', argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    holder.stdin?.on('error', () => {});
    let out = '';
    let err = '';
    holder.stdout?.setEncoding('utf8');
    holder.stderr?.setEncoding('utf8');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('timed out')), 10_000);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        holder.kill('SIGKILL');
        reject(new Error(`cannot make host ${name}: ${e.message} ${err.trim()}`));
      };
      holder.on('error', fail);
      holder.on('exit', (code, signal) => fail(new Error(`holder exited (${signal ?? code})`)));
      holder.stderr?.on('data', (d: string) => (err += d));
      holder.stdout?.on('data', (d: string) => {
        out += d;
        if (out.includes('ready\n')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    holder.removeAllListeners('exit');
    holder.removeAllListeners('error');
    holder.on('error', () => {});
    // Synchronously: the holder is alive and not reaped, so its PID names it; open its namespaces
    // once and use only these descriptors from now on.
    if (holder.exitCode !== null || holder.signalCode !== null || holder.pid === undefined) {
      throw new Error(`cannot make host ${name}: holder exited`);
    }
    const netFd = openSync(`/proc/${holder.pid}/ns/net`, 'r');
    const mntFd = openSync(`/proc/${holder.pid}/ns/mnt`, 'r');
    const inode = fstatSync(netFd).ino;
    if (inode === this.self.netnsInode) {
      closeSync(netFd);
      closeSync(mntFd);
      holder.kill('SIGKILL');
      throw new Error(`cannot make host ${name}: the holder is not in a new network namespace`);
    }
    holder.stdout?.removeAllListeners('data');
    holder.stderr?.removeAllListeners('data');
    holder.stdout?.resume();
    holder.stderr?.resume();
    holder.unref();
    for (const s of [holder.stdin, holder.stdout, holder.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
    const host = new Host(`${this.prefix}-${name}`, holder, [netFd, mntFd], inode);
    this.hosts.push(host);
    const ifs = await host.interfaces();
    if (ifs.join(',') !== 'lo') throw new Error(`host ${name} has unexpected interfaces: ${ifs.join(', ')}`);
    return host;
  }

  /**
   * Makes a veth pair: `aIf` in host a, `bIf` in host b (a may be b), both up, addresses set,
   * IPv6 link-local usable. Returns both ends with their ifindex and addresses.
   */
  async link(a: Host, aIf: string, b: Host, bIf: string, opts: LinkOptions = {}): Promise<Link> {
    this.assertAlive();
    checkIfname(aIf);
    checkIfname(bIf);
    if (a === b && aIf === bIf) throw new Error('both ends of a link need different names');
    if (a === b) {
      await a.ip('link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf);
    } else if (b.isSelf) {
      // Made in b (self) with the far end in a, so that `netns` always names a peer's descriptor.
      await b.execWithNs((p) => ['ip', 'link', 'add', bIf, 'type', 'veth', 'peer', 'name', aIf, 'netns', p[0] ?? ''], [a], {
        check: true,
      });
    } else {
      await a.execWithNs((p) => ['ip', 'link', 'add', aIf, 'type', 'veth', 'peer', 'name', bIf, 'netns', p[0] ?? ''], [b], {
        check: true,
      });
    }
    if (a.isSelf) this.selfIfnames.push(aIf);
    else if (b.isSelf) this.selfIfnames.push(bIf);
    const [self, peer] = await Promise.all([
      this.configureEnd(a, aIf, opts.selfAddr, opts.selfAddr6, opts.mtu),
      this.configureEnd(b, bIf, opts.peerAddr, opts.peerAddr6, opts.mtu),
    ]);
    // Link-local addresses appear once both ends are up.
    self.linkLocal = await a.linkLocal(aIf);
    peer.linkLocal = await b.linkLocal(bIf);
    const link: Link = { self, peer };
    this.links.push(link);
    return link;
  }

  private async configureEnd(
    host: Host,
    ifname: string,
    addr: string | undefined,
    addr6: string | undefined,
    mtu: number | undefined,
  ): Promise<Endpoint> {
    await host.exec(
      ['tee', `/proc/sys/net/ipv6/conf/${ifname}/accept_dad`, `/proc/sys/net/ipv6/conf/${ifname}/router_solicitations`],
      { input: '0\n', check: true },
    );
    let addr4: string | null = null;
    let global6: string | null = null;
    for (const cidr of [addr, addr6]) {
      if (cidr === undefined) continue;
      await host.addAddress(ifname, cidr);
      if (isIP(stripPrefix(cidr)) === 4) addr4 = stripPrefix(cidr);
      else global6 = stripPrefix(cidr);
    }
    if (mtu !== undefined) await host.ip('link', 'set', 'dev', ifname, 'mtu', String(mtu));
    await host.ip('link', 'set', 'dev', ifname, 'up');
    return { host, ifname, ifindex: await host.ifindex(ifname), addr4, addr6: global6, linkLocal: '' };
  }

  /**
   * Starts `tcpdump -l -n -tt -vv --immediate-mode -i IF FILTER` in the endpoint's host and
   * resolves once tcpdump is listening. A Link means its `self` end.
   */
  async capture(target: Endpoint | Link | { host: Host; ifname: string }, filter: string, opts: CaptureOptions = {}): Promise<Capture> {
    this.assertAlive();
    const end = 'self' in target ? target.self : target;
    const v = `-${'v'.repeat(opts.verbosity ?? 2)}`;
    const argv = [
      'tcpdump',
      '-l',
      '-n',
      '-tt',
      v,
      '--immediate-mode',
      '-i',
      end.ifname,
      ...(opts.count !== undefined ? ['-c', String(opts.count)] : []),
      ...(filter.trim() !== '' ? [filter] : []),
    ];
    const child = end.host.spawn(argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const cap = new Capture(child, { host: end.host, ifname: end.ifname }, filter);
    this.captures.add(cap);
    await cap.waitListening(opts.readyTimeoutMs ?? 10_000);
    if (opts.timeoutMs !== undefined) cap.setTimeout(opts.timeoutMs);
    return cap;
  }

  /** Stops captures, kills every process started in the hosts, removes links and hosts. Idempotent. */
  destroy(): Promise<void> {
    this.destroying ??= this.doDestroy();
    return this.destroying;
  }

  private async doDestroy(): Promise<void> {
    await Promise.all([...this.captures].map((c) => c.stop().catch(() => undefined)));
    // Deleting one end of a veth pair deletes both.
    for (const ifname of this.selfIfnames.reverse()) await this.self.exec(['ip', 'link', 'del', 'dev', ifname]);
    await Promise.all(this.hosts.map((h) => h.close()));
    await this.self.close();
    live.delete(this);
  }

  private assertAlive(): void {
    if (this.destroying) throw new Error('topology is destroyed');
  }

}
