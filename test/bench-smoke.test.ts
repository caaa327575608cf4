/**
 * The benchmark (bench/run.mjs) at a tiny size, so that it cannot rot: every case runs with every
 * contestant, the table is printed, the JSON and the SVG are written. Speed is not asserted here
 * (`npm run bench` measures it); only the shape of the output.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { checkSandbox, type SandboxInputs } from './harness/sandbox.js';

const ROOT = resolve(__dirname, '..');
const RUN = join(ROOT, 'bench', 'run.mjs');

const RECEIVERS = ['c-recvmmsg', 'c-recvmsg', 'mcast-batch', 'mcast-message', 'dgram'];
const SENDERS = ['c-sendmmsg', 'c-sendto', 'mcast-sendBatch', 'mcast-send', 'dgram-send', 'mcast-sendBatch-mmsg'];
/** Contestants (ids) expected in each case. */
const EXPECTED: Record<string, string[]> = {
  drain: [...RECEIVERS, 'c-recvmmsg-name', 'c-recvmmsg-meta', 'mcast-batch-nosource'],
  maxload: RECEIVERS,
  steady: RECEIVERS,
  latency: RECEIVERS,
  'latency-spin': ['c-spin', 'mcast-spin', 'mcast-batch'],
  send: SENDERS,
  'send-gso': ['c-gso', 'c-sendmmsg', 'mcast-sendBatch', 'mcast-sendBatch-block', 'dgram-send', 'c-gso-1024', 'mcast-sendBatch-block-1024'],
  'drain-gro': ['c-recvmmsg', 'c-gro', 'mcast-batch-gro'],
  'drain-gro-veth': ['c-recvmmsg', 'c-gro', 'mcast-batch', 'mcast-batch-gro'],
  memory: ['mcast-batch', 'mcast-message'],
  feed: ['mcast-batch'], // one row: the feed's CPU per item over one 'batch' socket's (bench/feed.mjs)
};

interface Row {
  id: string;
  label: string;
  median: number | null;
  min: number | null;
  max: number | null;
  n: number;
  failed: number;
  errors: string[];
}
interface Section {
  case: string;
  variant: string;
  rows: Row[];
}

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [RUN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

const out = mkdtempSync(join(tmpdir(), 'mcast-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('benchmark smoke run (npm run bench at a tiny size)', () => {
  it('runs every case with every contestant, prints the table, writes the JSON and the SVG', async () => {
    const started = Date.now();
    const r = await run(['--smoke', '--out', out]);
    const seconds = (Date.now() - started) / 1000;
    expect(r.code, `bench failed:\n${r.stdout}\n${r.stderr}`).toBe(0);

    // The table: a header, a row for every contestant, the targets.
    expect(r.stdout).toMatch(/^case\s+contestant\s+median\s+min – max\s+vs C\s+notes$/m);
    for (const name of Object.keys(EXPECTED)) expect(r.stdout).toMatch(new RegExp(`^${name} `, 'm'));
    // The offload targets are evaluated (their values are noise at this size).
    expect(r.stdout).toContain('send-gso: sendBatch(list) ≥ 0.9 × C UDP_SEGMENT');
    expect(r.stdout).toContain('send-gso: sendBatch(block) ≥ 0.9 × C UDP_SEGMENT');
    expect(r.stdout).toContain('send-gso: sendBatch(block), 1024 per call, ≥ 0.9 × C UDP_SEGMENT(1024)');
    expect(r.stdout).toContain('drain-gro: gro batch path ≥ 0.8 × C UDP_GRO receiver');
    expect(r.stdout).toContain('drain-gro-veth: gro batch path ≥ 2 × the batch path without gro');
    expect(r.stdout).toContain('drain-gro-veth: gro batch path no worse than 0.95 × the batch path without gro');
    expect(r.stdout).toContain("latency-spin: receiveSync spin p99 ≤ 1.3 × C spin's p99");
    // Judged on the rounds' own ratios (one round in a smoke run).
    expect(r.stdout).toMatch(/latency-spin: .*median of 1 round ratio\(s\)/);
    expect(r.stdout).toMatch(/drain: 'message' path ≥ 0\.6 × C recvmmsg\(64\) \[64 B\]: .*round ratios: median .* over 1/);
    expect(r.stdout).toContain('targets:');
    expect(r.stdout).toContain(join(out, 'latest.json'));

    const doc = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as {
      machine: { cpu: string; kernel: string; node: string; link: string };
      results: Section[];
      targets: { target: string; met: boolean | null }[];
      errors: string[];
      table: string;
      table_markdown: string;
    };
    expect(doc.errors).toEqual([]);
    expect(doc.machine.node).toBe(process.version);
    expect(doc.machine.link).toBe('lo');
    expect([...new Set(doc.results.map((s) => s.case))].sort()).toEqual(Object.keys(EXPECTED).sort());
    for (const section of doc.results) {
      expect(section.rows.map((row) => row.id).sort(), `${section.case} ${section.variant}`).toEqual([...EXPECTED[section.case]!].sort());
      for (const row of section.rows) {
        expect(row.failed, `${section.case} ${row.id}: ${row.errors.join('; ')}`).toBe(0);
        expect(row.n, `${section.case} ${row.id}`).toBe(1);
        expect(Number.isFinite(row.median), `${section.case} ${row.id} has a result`).toBe(true);
      }
    }
    expect(doc.targets.length).toBeGreaterThanOrEqual(6);
    expect(doc.table).toContain("mcast 'batch'");
    expect(doc.table_markdown.split('\n')[0]).toMatch(/^\| case \| contestant \|/);

    const svg = readFileSync(join(out, 'latest.svg'), 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Drain');
    expect(svg).toContain('Send');
    for (const label of ['C recvmmsg(64)', "mcast 'batch'", 'dgram', 'C sendmmsg(64)', 'mcast sendBatch(64)']) {
      expect(svg).toContain(`>${label}</text>`);
    }
    // The smoke run is meant to stay well under 30 s; only warn here (a busy machine is slower).
    if (seconds > 30) console.warn(`bench smoke run took ${seconds.toFixed(1)} s`);
  }, 120_000);

  it('refuses to run when the sandbox marker names this very namespace', async () => {
    const here = /^net:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/net'))?.[1];
    const r = await run(['--smoke', '--out', out], { ...process.env, MCAST_NETNS_SANDBOX: `${here}:${here}:00` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refusing to run');
    expect(r.stderr).toContain('network namespace run-in-netns was started from');
  });

  it("checks the sandbox with the same logic as the test harness", async () => {
    const bench = (await import(join(ROOT, 'bench', 'lib', 'sandbox.mjs') as string)) as {
      checkSandbox: (inputs: SandboxInputs) => string[];
    };
    const good: SandboxInputs = {
      token: '4026531833:4026532999:abcdef',
      netns: 'net:[4026532999]',
      pid1Netns: 'net:[4026531833]',
      interfaces: ['lo', 'mca0'],
      ipv4Routes: 'Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\nmca0\t0001010A\t00000000\t0001\t0\t0\t0\t00FFFFFF\n',
      ipv6Routes: `${'0'.repeat(32)} 00 ${'0'.repeat(32)} 00 ${'0'.repeat(32)} ffffffff 00000001 00000000 00200200 lo\n`,
    };
    const variants: SandboxInputs[] = [
      good,
      { ...good, token: undefined },
      { ...good, token: 'nonsense' },
      { ...good, token: '4026532999:4026532999:ab' },
      { ...good, pid1Netns: 'net:[4026532999]' },
      { ...good, interfaces: ['lo', 'eth0'] },
      { ...good, ipv4Routes: `${good.ipv4Routes}eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\n` },
      { ...good, ipv6Routes: `${'0'.repeat(32)} 00 ${'0'.repeat(32)} 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n` },
      { ...good, netns: 'garbage' },
    ];
    // The same reasons, word for word, except for the command the message recommends.
    const same = (problems: string[]) => problems.map((p) => p.replace(/\(npm (test|run bench)\)/, '(npm …)'));
    for (const inputs of variants) {
      expect(same(bench.checkSandbox(inputs))).toEqual(same(checkSandbox(inputs)));
    }
    expect(bench.checkSandbox(good)).toEqual([]);
    expect(bench.checkSandbox(variants[5]!).join()).toContain('eth0');
  });
});
