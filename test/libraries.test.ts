/**
 * Clients nobody here wrote: multicast-dns, bonjour-service, @homebridge/ciao, node-ssdp and sacn
 * (pinned devDependencies), each running its own scenario unchanged, twice: on node:dgram, and
 * through `node -r mcast/register`. Each run is compared whole with the other: what each program
 * observed (answers, services found, errors), whether each process exited by itself, and which
 * link the traffic used.
 *
 * The network: a multi-homed host M with link A to peer PA and link B to peer PB. M's multicast
 * route (224.0.0.0/4) is on link B, and every program on M names link A in the library's own
 * interface option, so a library whose option is not honoured sends on B. tcpdump runs on both
 * of M's links for every run. The programs are in test/libraries/ (one per role; they print
 * JSON lines, see common.cjs) and each runs in its own child node process in its host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Capture, type Host, type Link, type Packet, Topology } from './harness/netns.js';
import { Running, spawnIn, until } from './wire-helpers.js';

const PROGRAMS = 'test/libraries';
/** How long a program may take to end by itself once it has nothing left to do. */
const EXIT_GRACE_MS = 4000;

let net: Topology;
let m: Host;
let pa: Host;
let pb: Host;
let linkA: Link;
let linkB: Link;

beforeAll(async () => {
  net = await Topology.create('lib', { autoDestroy: false });
  [m, pa, pb] = await Promise.all([net.host('m'), net.host('pa'), net.host('pb')]);
  linkA = await net.link(m, net.ifname('a'), pa, net.ifname('pa'), {
    selfAddr: '10.93.1.1/24',
    peerAddr: '10.93.1.2/24',
    selfAddr6: 'fd93:1::1/64',
    peerAddr6: 'fd93:1::2/64',
  });
  linkB = await net.link(m, net.ifname('b'), pb, net.ifname('pb'), {
    selfAddr: '10.93.2.1/24',
    peerAddr: '10.93.2.2/24',
    selfAddr6: 'fd93:2::1/64',
    peerAddr6: 'fd93:2::2/64',
  });
  // M sends multicast to link B unless told otherwise; each peer's only link carries its own.
  await m.addMulticastRoute(linkB.self.ifname);
  await pa.addMulticastRoute(linkA.peer.ifname);
  await pb.addMulticastRoute(linkB.peer.ifname);
});

afterAll(async () => {
  await net?.destroy();
});

type Mode = 'node:dgram' | 'mcast/dgram';

/** What one program showed: its JSON events, its other output, how it ended. */
interface ProgramObservation {
  /** Every event but 'impl', in order, without the 'event' key of 'result'. */
  events: Record<string, unknown>[];
  /** stdout lines that are not JSON (a library's console.log), and stderr lines. */
  otherOutput: string[];
  /** Exit code, or the signal that ended it. */
  exit: number | string | null;
  /** It ended within EXIT_GRACE_MS of being told to stop (or of finishing its work). */
  exitedByItself: boolean;
}

/** One UDP packet of a scenario as seen on M's links, reduced to what must not differ. */
interface WirePacket {
  link: 'A' | 'B';
  src: string | null;
  dst: string | null;
  dstPort: number | null;
}

interface Observation {
  programs: Record<string, ProgramObservation>;
  /** The distinct UDP packets of the scenario's ports, per link. */
  wire: WirePacket[];
}

/** A program of a scenario: which role file, in which host, with which settings. */
interface Role {
  host: () => Host;
  program: string;
  config: Record<string, unknown>;
}

/** Steps of a scenario, run in order. */
type Step =
  /** Start a program and wait for its {"event":"ready"} (or for its first line, `until`). */
  | { start: string; until?: string }
  /** Wait for a program's event of this name. */
  | { wait: string; event: string; timeoutMs?: number }
  /** Write "stop" to a program's stdin. */
  | { stop: string }
  /** Wait for a program to end; it must do so within its timeout. */
  | { exit: string; timeoutMs?: number }
  /** Give packets in flight time to reach the capture (goodbyes, answers after a stop). */
  | { settle: number };

interface Scenario {
  roles: Record<string, Role>;
  steps: Step[];
  /** The UDP ports whose packets count as the scenario's traffic. */
  ports: number[];
}

class Program {
  readonly run: Running;
  stopAt: number | null = null;

  constructor(
    readonly name: string,
    host: Host,
    argv: string[],
  ) {
    this.run = spawnIn(host, argv);
  }

  events(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.run.lines) {
      const parsed = parseJson(line);
      if (parsed !== null) out.push(parsed);
    }
    return out;
  }

  has(event: string): boolean {
    return this.events().some((e) => e.event === event);
  }

  /** Stops waiting early when the program has already ended. */
  async waitEvent(event: string, timeoutMs: number): Promise<void> {
    await until(
      () => this.has(event) || !this.run.running,
      `${this.name}: event ${event}`,
      timeoutMs,
      () => this.run.describe(),
    ).catch(() => undefined);
  }
}

function parseJson(line: string): Record<string, unknown> | null {
  if (!line.startsWith('{')) return null;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Runs a scenario in one mode and returns everything it observed. */
async function observe(scenario: Scenario, mode: Mode): Promise<Observation> {
  const flags = mode === 'mcast/dgram' ? ['-r', 'mcast/register'] : [];
  const filter = `udp and (${scenario.ports.map((p) => `port ${p}`).join(' or ')})`;
  const caps: Record<'A' | 'B', Capture> = {
    A: await net.capture(linkA.self, filter),
    B: await net.capture(linkB.self, filter),
  };
  const programs = new Map<string, Program>();
  const get = (name: string): Program => {
    const p = programs.get(name);
    if (!p) throw new Error(`scenario step names ${name} before it started`);
    return p;
  };
  try {
    for (const step of scenario.steps) {
      if ('start' in step) {
        const role = scenario.roles[step.start];
        if (!role) throw new Error(`no role ${step.start}`);
        const p = new Program(step.start, role.host(), [
          process.execPath,
          ...flags,
          `${PROGRAMS}/${role.program}`,
          JSON.stringify(role.config),
        ]);
        programs.set(step.start, p);
        await p.waitEvent(step.until ?? 'ready', 10_000);
      } else if ('wait' in step) {
        await get(step.wait).waitEvent(step.event, step.timeoutMs ?? 10_000);
      } else if ('stop' in step) {
        const p = get(step.stop);
        p.stopAt = Date.now();
        p.run.child.stdin?.end('stop\n');
      } else if ('exit' in step) {
        await get(step.exit).run.wait(step.timeoutMs ?? 10_000).catch(() => undefined);
      } else {
        await new Promise((r) => setTimeout(r, step.settle));
      }
    }
    // Anything still running had its chance: tell it to stop and wait the grace period.
    for (const p of programs.values()) {
      if (p.run.running && p.stopAt === null) {
        p.stopAt = Date.now();
        p.run.child.stdin?.end('stop\n');
      }
    }
    const ended = new Map<string, boolean>();
    await Promise.all(
      [...programs.values()].map(async (p) => {
        const wait = await p.run.wait(EXIT_GRACE_MS).then(
          () => true,
          () => false,
        );
        ended.set(p.name, wait);
      }),
    );
    const out: Observation = { programs: {}, wire: [] };
    for (const p of programs.values()) {
      const events = p.events();
      const impl = events.find((e) => e.event === 'impl');
      // The run used the dgram it should have: the comparison means nothing otherwise.
      expect(impl, `${p.name} printed which dgram it got`).toEqual({ event: 'impl', impl: mode });
      const exit = p.run.child.exitCode ?? p.run.child.signalCode;
      out.programs[p.name] = {
        events: events.filter((e) => e.event !== 'impl'),
        otherOutput: [
          ...p.run.lines.filter((l) => parseJson(l) === null && l.trim() !== ''),
          ...p.run.stderr.split('\n').filter((l) => l.trim() !== ''),
        ].map(normalizeOutput),
        exit: exit === 'SIGKILL' && ended.get(p.name) === false ? 'killed: still running' : exit,
        exitedByItself: ended.get(p.name) === true,
      };
    }
    await new Promise((r) => setTimeout(r, 200));
    for (const link of ['A', 'B'] as const) {
      const { packets } = await caps[link].stop();
      out.wire.push(...wireOf(link, packets));
    }
    out.wire = dedupe(out.wire);
    return out;
  } finally {
    for (const p of programs.values()) if (p.run.running) p.run.child.kill('SIGKILL');
    await Promise.all(Object.values(caps).map((c) => c.stop()));
  }
}

/** Process ids and timestamps differ from run to run; nothing else may. */
function normalizeOutput(line: string): string {
  return line.replace(/\(node:\d+\)/g, '(node:PID)').replace(/\b\d{4}-\d\d-\d\dT[\d:.]+Z\b/g, 'TIME');
}

function wireOf(link: 'A' | 'B', packets: Packet[]): WirePacket[] {
  return packets.filter((p) => p.proto === 'UDP').map((p) => ({ link, src: p.src, dst: p.dst, dstPort: p.dstPort }));
}

function dedupe(packets: WirePacket[]): WirePacket[] {
  const seen = new Map(packets.map((p) => [JSON.stringify(p), p]));
  return [...seen.keys()].sort().map((k) => seen.get(k)!);
}

/** The events of one program of an observation, by name. */
function eventsOf(o: Observation, program: string, event: string): Record<string, unknown>[] {
  return (o.programs[program]?.events ?? []).filter((e) => e.event === event);
}

function resultOf(o: Observation, program: string): Record<string, unknown> | undefined {
  return eventsOf(o, program, 'result')[0];
}

/**
 * Runs the scenario on node:dgram, checks that run with `expectNode` (so the scenario really
 * shows something), then through mcast/register, and expects the same observation.
 */
async function compare(scenario: Scenario, expectNode: (o: Observation) => void): Promise<void> {
  const onNode = await observe(scenario, 'node:dgram');
  expectNode(onNode);
  const onMcast = await observe(scenario, 'mcast/dgram');
  if (process.env.LIBS_DUMP) console.log(JSON.stringify({ onNode, onMcast }, null, 1));
  expect(onMcast).toEqual(onNode);
}

const M_A4 = '10.93.1.1';
const PA_A4 = '10.93.1.2';

/** Every program ended by itself, with code 0. */
function expectCleanExits(o: Observation): void {
  for (const [name, p] of Object.entries(o.programs)) {
    expect({ name, exit: p.exit, exitedByItself: p.exitedByItself }).toEqual({ name, exit: 0, exitedByItself: true });
  }
}

/** Traffic of the scenario went over link A only, and some of it was sent from `src` on A. */
function expectOnLinkA(o: Observation, src: string): void {
  expect(o.wire.filter((p) => p.link === 'B')).toEqual([]);
  expect(o.wire.some((p) => p.link === 'A' && p.src === src)).toBe(true);
}

describe('multicast-dns', () => {
  it('IPv4: a query from M (interface: its link-A address) gets the answer of a responder on PA', async () => {
    const name = 'box-v4.local';
    await compare(
      {
        roles: {
          responder: { host: () => pa, program: 'mdns-responder.cjs', config: { mdns: {}, name, type: 'A', data: PA_A4 } },
          querier: {
            host: () => m,
            program: 'mdns-querier.cjs',
            config: { mdns: { interface: M_A4, bind: '0.0.0.0' }, name, type: 'A', timeoutMs: 4000 },
          },
        },
        steps: [{ start: 'responder' }, { start: 'querier', until: 'impl' }, { exit: 'querier' }],
        ports: [5353],
      },
      (o) => {
        expect(resultOf(o, 'querier')).toMatchObject({
          answers: [{ name, type: 'A', data: PA_A4 }],
          from: [PA_A4],
          errors: [],
          timedOut: false,
        });
        expect(resultOf(o, 'responder')).toMatchObject({ queries: [{ name, type: 'A' }], errors: [] });
        expectCleanExits(o);
        expectOnLinkA(o, M_A4);
      },
    );
  });
});
