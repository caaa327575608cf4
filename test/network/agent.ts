/**
 * The test side of agent.mjs: one mcast program per host, told over stdin what to open, join,
 * leave, block and send, and asked what its sockets received.
 */
import { fileURLToPath } from 'node:url';
import type { Host } from '../harness/netns.js';
import { Running } from '../wire-helpers.js';

const AGENT = fileURLToPath(new URL('./agent.mjs', import.meta.url));

/** What one socket of an agent received. */
export interface AgentCounts {
  total: number;
  bySource: Record<string, number>;
  byTag: Record<string, number>;
}

/** An error an agent's command answered with (an mcast error's code and message). */
export class AgentError extends Error {
  constructor(
    readonly code: string | null,
    message: string,
  ) {
    super(message);
  }
}

/** A running agent.mjs in one host. */
export class Agent {
  readonly run: Running;
  #seq = 0;
  #consumed = 0;

  private constructor(readonly host: Host) {
    this.run = new Running(host.spawn([process.execPath, AGENT]));
  }

  /** Starts an agent in `host` and waits for it to be ready. */
  static async start(host: Host): Promise<Agent> {
    const a = new Agent(host);
    await a.#next(null, 10_000);
    return a;
  }

  async #next(seq: number | null, timeoutMs: number): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.#consumed < this.run.lines.length) {
        const line = this.run.lines[this.#consumed++] ?? '';
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (seq === null ? msg.ready === true : msg.seq === seq) return msg;
      }
      if (!this.run.running) throw new Error(`agent in ${this.host.name} exited; ${this.run.describe()}`);
      if (Date.now() > deadline) throw new Error(`agent in ${this.host.name}: no answer in ${timeoutMs} ms; ${this.run.describe()}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Sends one command and resolves with its answer; rejects with AgentError when it failed. */
  async call(cmd: Record<string, unknown>, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const seq = ++this.#seq;
    this.run.child.stdin?.write(`${JSON.stringify({ ...cmd, seq })}\n`);
    const msg = await this.#next(seq, timeoutMs);
    const err = msg.error as { code: string | null; message: string } | undefined;
    if (err) throw new AgentError(err.code, err.message);
    return msg;
  }

  /** Opens socket `id` with createSocket(options). */
  async open(id: string, options: Record<string, unknown>): Promise<void> {
    await this.call({ op: 'open', id, options });
  }

  /** join / leave on socket `id`. */
  async join(id: string, group: string, options: Record<string, unknown> = {}): Promise<void> {
    await this.call({ op: 'join', id, group, options });
  }

  /** leave on socket `id`. */
  async leave(id: string, group: string, options: Record<string, unknown> = {}): Promise<void> {
    await this.call({ op: 'leave', id, group, options });
  }

  /** blockSource on socket `id`. */
  async blockSource(id: string, group: string, source: string, options: Record<string, unknown> = {}): Promise<void> {
    await this.call({ op: 'blockSource', id, group, source, options });
  }

  /** Sends `count` datagrams "TAG:i" from socket `id`, `intervalMs` apart. */
  async send(id: string, group: string, port: number, count: number, tag: string, intervalMs = 0): Promise<number> {
    const r = await this.call({ op: 'send', id, group, port, count, tag, intervalMs }, 120_000);
    return r.sent as number;
  }

  /** Sends `count` datagrams "TAG:i" from socket `id` at a fixed `rate` per second. */
  async sendAtRate(id: string, group: string, port: number, count: number, tag: string, rate: number): Promise<number> {
    const r = await this.call({ op: 'send', id, group, port, count, tag, rate }, 600_000);
    return r.sent as number;
  }

  /** What each socket received since the start (or the last reset). */
  async counts(): Promise<Record<string, AgentCounts>> {
    return (await this.call({ op: 'counts' })).counts as Record<string, AgentCounts>;
  }

  /** What socket `id` received. */
  async countsOf(id: string): Promise<AgentCounts> {
    return (await this.counts())[id] ?? { total: 0, bySource: {}, byTag: {} };
  }

  /** Counters to zero. */
  async reset(): Promise<void> {
    await this.call({ op: 'reset' });
  }

  /** Calls a function exported by mcast (e.g. 'memberships') and returns its value. */
  async eval(fn: string, args: unknown[] = []): Promise<unknown> {
    return (await this.call({ op: 'eval', fn, args })).value;
  }

  /** Ends the agent (its sockets close). */
  async stop(): Promise<void> {
    this.run.child.stdin?.end();
    await this.run.wait(5000).catch(() => this.run.child.kill('SIGKILL'));
  }
}
