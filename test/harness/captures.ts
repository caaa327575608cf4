/**
 * Packet captures: tcpdump started in a host on one interface, its output parsed as it comes
 * (./tcpdump.ts), waited on packet by packet, stopped with SIGINT so it flushes.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { sleep, type Host } from './hosts.js';
import { parseTcpdump, type Packet } from './tcpdump.js';

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


/** Where a capture runs: an interface of a host (an Endpoint is one). */
export interface CaptureTarget {
  host: Host;
  ifname: string;
}

/**
 * Starts `tcpdump -l -n -tt -vv --immediate-mode -i IF FILTER` in the target's host and resolves
 * once tcpdump is listening.
 */
export async function startCapture(end: CaptureTarget, filter: string, opts: CaptureOptions = {}): Promise<Capture> {
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
  await cap.waitListening(opts.readyTimeoutMs ?? 10_000);
  if (opts.timeoutMs !== undefined) cap.setTimeout(opts.timeoutMs);
  return cap;
}
