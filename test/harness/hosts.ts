/**
 * Hosts of a test topology: the sandbox namespace itself (net.self) and peer hosts, each a network
 * + mount namespace held open by a holder process (`unshare --net --mount`, under `setpriv
 * --pdeathsig KILL`, which also exits when its stdin closes): it cannot outlive the test process.
 * Commands run in a peer through `nsenter --net=FD --mount=FD`, where FD are descriptors of the
 * namespaces opened once, right after the holder proved it is in them (no PID that could be
 * reused). Each peer mounts its own sysfs, so /sys/class/net is right inside it.
 */
import { spawn, type ChildProcess, type IOType } from 'node:child_process';
import { closeSync, existsSync, fstatSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import { isIP } from 'node:net';
import { delimiter, join } from 'node:path';

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

/** @internal "10.1.1.1/24" -> "10.1.1.1". */
export function stripPrefix(cidr: string): string {
  return cidr.split('/')[0] ?? cidr;
}

function sysctlPath(key: string): string {
  if (!/^[A-Za-z0-9_./-]+$/.test(key) || key.includes('..')) throw new Error(`bad sysctl key ${key}`);
  // net.ipv4.conf.mca0.rp_filter or net/ipv4/conf/mca0/rp_filter
  return `/proc/sys/${key.includes('/') ? key : key.replace(/\./g, '/')}`;
}

/** @internal */
export function sleep(ms: number): Promise<void> {
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

/** One address of an interface, as `ip -j addr` lists it. */
export interface IpAddrInfo {
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

/**
 * Starts a peer host: a holder process in a new network + mount namespace with `lo` up and
 * nothing else, whose namespaces are opened once as descriptors. `selfInode` is the caller's
 * network namespace inode (the new one must differ).
 */
export async function startPeerHost(name: string, selfInode: number): Promise<Host> {
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
  if (inode === selfInode) {
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
  const host = new Host(name, holder, [netFd, mntFd], inode);
  const ifs = await host.interfaces();
  if (ifs.join(',') !== 'lo') {
    await host.close();
    throw new Error(`host ${name} has unexpected interfaces: ${ifs.join(', ')}`);
  }
  return host;
}
