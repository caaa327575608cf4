/**
 * The programs in examples/, run as a user runs them (`node examples/NAME.js ...`, importing
 * the package by its name: `require('mcast')` resolves to this project through the package's
 * self-reference), on a multi-homed host: this namespace (H) with link A to peer host PA and link B
 * to peer host PB. Peers send with Python's socket module, the examples' own senders, and
 * multicast-dns on node:dgram. Each test checks the lines the example's header promises.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Host, type Link, multiHomed, Topology } from './harness/netns.js';
import { settle } from './helpers.js';
import { PY_SEND, reportFor, type Running, spawnIn, until } from './wire-helpers.js';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const EXAMPLES = join(ROOT, 'examples');

let net: Topology;
let pa: Host;
let pb: Host;
let linkA: Link;
let linkB: Link;

beforeAll(async () => {
  net = await Topology.create('ex', { autoDestroy: false });
  ({ pa, pb, linkA, linkB } = await multiHomed(net, { subnet: 73, secondSource: true }));
});

afterAll(async () => {
  await net?.destroy();
});

/** Starts `node examples/NAME ARGS...` in `host`. */
function example(host: Host, name: string, args: readonly string[], nodeFlags: readonly string[] = []): Running {
  return spawnIn(host, [process.execPath, ...nodeFlags, join(EXAMPLES, name), ...args]);
}

/** Waits for a stdout line that starts with `prefix`, and returns it. */
async function line(run: Running, prefix: string, timeoutMs = 10_000): Promise<string> {
  await until(() => run.lines.some((l) => l.startsWith(prefix)), `a line "${prefix}..."`, timeoutMs, () => run.describe());
  return run.lines.find((l) => l.startsWith(prefix))!;
}

/** Ctrl-C, as a user stops a receiver: it prints its summary and exits 0. */
async function stop(run: Running): Promise<string[]> {
  run.child.kill('SIGINT');
  const end = await run.wait(10_000);
  expect(end, run.describe()).toEqual({ code: 0, signal: null });
  expect(run.stderr).toBe('');
  return run.lines;
}

/** Python on a peer: one datagram per payload (hex), to group:port out of the interface with `ifaddr`. */
const PY_SEND_HEX = `
import socket, sys
group, port, ifaddr = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ifaddr))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
for payload in sys.stdin.read().split():
    s.sendto(bytes.fromhex(payload), (group, port))
`;

async function sendHex(host: Host, group: string, port: number, ifaddr: string, payloads: readonly Buffer[]): Promise<void> {
  const r = await host.python(PY_SEND_HEX, [group, String(port), ifaddr], { input: payloads.map((p) => p.toString('hex')).join('\n') });
  if (r.code !== 0) throw new Error(`python sender failed: ${r.stderr}`);
}

function seqDatagram(seq: number): Buffer {
  const b = Buffer.alloc(32, 0x2e);
  b.writeBigUInt64BE(BigInt(seq));
  return b;
}

describe('every example', () => {
  it('is run by a test in this file, and its header says what it needs, how to run it and what it prints', () => {
    const source = readFileSync(fileURLToPath(import.meta.url), 'utf8');
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.js'));
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const file of files) {
      expect(source, `${file} has no test`).toContain(`'${file}'`);
      const header = readFileSync(join(EXAMPLES, file), 'utf8').split('\n\'use strict\';')[0]!;
      expect(header, file).toMatch(/^#!\/usr\/bin\/env node\n\/\/ /);
      expect(header, file).toContain('// Needs:');
      expect(header, file).toContain('// Output:');
      expect(header, file).toContain(`node examples/${file}`);
    }
  });
});

describe('examples/multihomed-receiver.js', () => {
  it('joins one group on two named interfaces and names the arrival interface and drop counter of each datagram', async () => {
    const [ifA, ifB] = [linkA.self.ifname, linkB.self.ifname];
    const rx = example(net.self, 'multihomed-receiver.js', ['--interface', ifA, '--interface', ifB, '--group', '239.73.0.1', '--port', '7301']);
    expect(await line(rx, 'joined')).toBe(`joined 239.73.0.1:7301 on ${ifA} (index ${linkA.self.ifindex}), ${ifB} (index ${linkB.self.ifindex})`);
    for (const [host, ifaddr, message] of [[pa, '10.73.1.2', 'hello A'], [pb, '10.73.2.2', 'hello B']] as const) {
      const r = await host.python(PY_SEND, ['4', '239.73.0.1', '7301', ifaddr, '1', '1', message]);
      expect(r.code, r.stderr).toBe(0);
    }
    await until(() => rx.lines.length >= 3, 'two datagram lines', 5000, () => rx.describe());
    const lines = await stop(rx);
    expect(lines.slice(1, 3).sort()).toEqual([
      expect.stringMatching(new RegExp(`^${ifA}  10\\.73\\.1\\.2:\\d+ -> 239\\.73\\.0\\.1  7 bytes  drops 0  "hello A"$`)),
      expect.stringMatching(new RegExp(`^${ifB}  10\\.73\\.2\\.2:\\d+ -> 239\\.73\\.0\\.1  7 bytes  drops 0  "hello B"$`)),
    ]);
    expect(lines[3]).toBe(`total: 2 datagrams (${ifA} 1, ${ifB} 1), kernel drops 0`);
  });
});

describe('examples/market-data.js', () => {
  const group = '239.73.0.2';

  it('reports a gap in the sequence as lost upstream when the kernel dropped nothing', async () => {
    const rx = example(net.self, 'market-data.js', ['--group', group, '--port', '7302', '--interface', linkA.self.ifname]);
    expect(await line(rx, 'watching')).toBe(`watching ${group}:7302 on ${linkA.self.ifname}`);
    const seqs = [...Array.from({ length: 1000 }, (_, i) => i + 1), ...Array.from({ length: 997 }, (_, i) => i + 1004)];
    await sendHex(pa, group, 7302, '10.73.1.2', seqs.map(seqDatagram));
    await line(rx, 'gap:');
    await settle(300);
    const lines = await stop(rx);
    expect(lines.filter((l) => l.startsWith('gap:'))).toEqual(['gap: expected 1001, got 1004: 3 missing, lost upstream (kernel drops +0)']);
    expect(lines.at(-1)).toBe('total: 1997 datagrams, 1 gaps, 3 missing (0 dropped here, 3 upstream), last seq 2000');
  });

  it("explains a gap by the kernel's drop counter when this host's receive buffer overflowed", async () => {
    // A tiny receive buffer and a stopped process: the kernel queues a few datagrams and drops
    // the rest; the datagram sent after the process resumes shows the gap and its drops.
    const rx = example(net.self, 'market-data.js', ['--group', group, '--port', '7303', '--interface', linkA.self.ifname, '--buffer', '4096']);
    await line(rx, 'watching');
    rx.child.kill('SIGSTOP');
    try {
      await sendHex(pa, group, 7303, '10.73.1.2', Array.from({ length: 500 }, (_, i) => seqDatagram(i + 1)));
      await settle(200);
    } finally {
      rx.child.kill('SIGCONT');
    }
    await settle(300);
    await sendHex(pa, group, 7303, '10.73.1.2', [seqDatagram(501)]);
    const gap = await line(rx, 'gap:');
    const m = /^gap: expected (\d+), got 501: (\d+) missing, dropped by this host \(kernel drops \+(\d+)\)$/.exec(gap);
    expect(m, gap).not.toBeNull();
    const [, expectedSeq, missing, drops] = m!.map(Number);
    expect(missing).toBe(501 - expectedSeq!);
    expect(drops).toBe(missing);
    const lines = await stop(rx);
    expect(lines.at(-1)).toBe(`total: ${expectedSeq} datagrams, 1 gaps, ${missing} missing (${missing} dropped here, 0 upstream), last seq 501`);
  });
});

describe('examples/video-receiver.js', () => {
  it('prints the bitrate and counts continuity and sync errors of a 1316-byte MPEG-TS stream', async () => {
    const group = '239.73.0.3';
    const rx = example(net.self, 'video-receiver.js', ['--group', group, '--port', '7304', '--interface', linkA.self.ifname]);
    await line(rx, 'receiving');
    // 300 datagrams of seven 188-byte TS packets on PID 0x100, the continuity counter counting
    // up. Datagram 100 is not sent (one jump of the counter); the first packet of datagram 200
    // has a bad sync byte (one sync error, and that packet's counter is missing: one jump more).
    const datagrams: Buffer[] = [];
    let counter = 0;
    for (let d = 0; d < 300; d++) {
      const datagram = Buffer.alloc(1316, 0xff);
      for (let p = 0; p < 7; p++) {
        datagram.set([p === 0 && d === 200 ? 0x00 : 0x47, 0x01, 0x00, 0x10 | (counter++ & 0x0f)], p * 188);
      }
      if (d !== 100) datagrams.push(datagram);
    }
    await sendHex(pa, group, 7304, '10.73.1.2', datagrams);
    await until(() => rx.lines.filter((l) => l.startsWith('continuity:')).length >= 2, 'two continuity lines', 5000, () => rx.describe());
    await until(() => rx.lines.some((l) => /^\d+s: /.test(l)), 'a per-second line', 5000, () => rx.describe());
    const lines = await stop(rx);
    // Datagram 100's packets had counters 700..706 (mod 16: 12..2): 11 is followed by 3.
    // Datagram 200's first packet (counter 1400, mod 16 = 8) is skipped: 7 is followed by 9.
    expect(lines.filter((l) => l.startsWith('continuity:'))).toEqual([
      'continuity: PID 0x100 expected 12, got 3',
      'continuity: PID 0x100 expected 8, got 9',
    ]);
    expect(lines.some((l) => /^\d+s: \d+\.\d\d Mbit\/s, \d+ datagrams, continuity errors \d, sync errors \d$/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^total: 299 datagrams, 393484 bytes, \d+\.\d\d Mbit\/s over the run, continuity errors 2, sync errors 1$/);
  });
});

describe('examples/ssm-sender.js and examples/ssm-receiver.js', () => {
  it('source-specific multicast end to end: an IGMPv3 (S,G) join, and only the chosen source is heard', async () => {
    const group = '232.73.0.4';
    const cap = await net.capture(linkA.self, 'igmp');
    const rx = example(net.self, 'ssm-receiver.js', ['--source', '10.73.1.2', '--group', group, '--port', '7305', '--interface', linkA.self.ifname]);
    expect(await line(rx, 'joined')).toBe(`joined (10.73.1.2, ${group}) port 7305 on ${linkA.self.ifname}`);
    const report = await cap.waitFor(reportFor(group, 'ALLOW_NEW_SOURCES'));
    expect(report.report?.records.find((r) => r.group === group)?.sources).toEqual(['10.73.1.2']);
    const senders = ['10.73.1.2', '10.73.1.3'].map((source) =>
      example(pa, 'ssm-sender.js', ['--group', group, '--port', '7305', '--interface', linkA.peer.ifname, '--source', source, '--count', '3', '--interval', '20', '--ttl', '1']),
    );
    for (const tx of senders) {
      expect(await tx.wait(10_000), tx.describe()).toEqual({ code: 0, signal: null });
      expect(tx.lines).toHaveLength(3);
    }
    expect(senders[1]!.lines[0]).toBe(`10.73.1.3 -> ${group}:7305 via ${linkA.peer.ifname}, ttl 1: "ssm 1 from 10.73.1.3"`);
    await until(() => rx.lines.length >= 4, 'three datagrams', 5000, () => rx.describe());
    await settle(300);
    const lines = await stop(rx);
    expect(lines.slice(1, -1).map((l) => l.replace(/:\d+ ->/, ':PORT ->'))).toEqual([1, 2, 3].map((n) => `10.73.1.2:PORT -> ${group}: "ssm ${n} from 10.73.1.2"`));
    expect(lines.at(-1)).toBe('total: 3 datagrams, all from 10.73.1.2');
    await cap.stop();
  });
});

describe('examples/mdns-browse.js', () => {
  it('the unchanged multicast-dns, run through mcast/register, finds a service that multicast-dns on node:dgram announces on another host', async () => {
    // The responder: the unchanged library on Node's dgram, in PA.
    const responder = spawnIn(pa, [
      process.execPath,
      '-e',
      `const mdns = require('multicast-dns')({ interface: '10.73.1.2', bind: '0.0.0.0' });
       mdns.on('query', (q) => {
         if (!q.questions.some((x) => x.name === '_http._tcp.local' && x.type === 'PTR')) return;
         mdns.respond({
           answers: [{ name: '_http._tcp.local', type: 'PTR', data: 'Test Web._http._tcp.local' }],
           additionals: [
             { name: 'Test Web._http._tcp.local', type: 'SRV', data: { port: 8080, target: 'pa.local' } },
             { name: 'Test Web._http._tcp.local', type: 'TXT', data: ['path=/x'] },
             { name: 'pa.local', type: 'A', data: '10.73.1.2' },
           ],
         });
       });
       mdns.on('ready', () => console.log('ready'));`,
    ]);
    try {
      await line(responder, 'ready');
      const browse = example(net.self, 'mdns-browse.js', ['--interface', '10.73.1.1', '--seconds', '2'], ['-r', 'mcast/register']);
      const end = await browse.wait(15_000);
      expect(end, browse.describe()).toEqual({ code: 0, signal: null });
      expect(browse.lines).toEqual([
        'dgram: mcast/dgram (through mcast/register)',
        'browsing _http._tcp.local on 10.73.1.1 for 2 s',
        'found "Test Web._http._tcp.local" at pa.local:8080 (10.73.1.2) txt: path=/x',
        'total: 1 instance of _http._tcp.local',
      ]);
    } finally {
      responder.child.kill('SIGKILL');
    }
  });
});
