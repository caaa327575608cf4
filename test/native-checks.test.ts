/**
 * Native checks that fit in `npm test` (about a minute): the CMake build reads its sources from
 * binding.gyp and leaves no native file out; the native unit tests pass under
 * ASan+UBSan (inside this private network namespace, so their socket tests run); the libFuzzer
 * targets run for a while (MCAST_FUZZ_SECONDS, default 10 s each) on their seed corpora without a
 * finding. The long versions: npm run fuzz, npm run test:asan, npm run valgrind. Lint (cppcheck
 * and clang-tidy) is `npm run lint:native` alone: CI runs it once, and npm test stays inside its
 * ten minutes.
 *
 * Needs cmake and clang (clang 14: libclang-rt-14-dev for libFuzzer and ASan). Outside
 * CI a missing tool skips its check; in CI it fails, so that a broken setup cannot pass unseen.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { cmakeConfigure } from '../native/tests/cmake-configure.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const BUILD = join(ROOT, 'build-checks');
const FUZZ_SECONDS = Number(process.env.MCAST_FUZZ_SECONDS ?? 10);
// Under `npm run test:asan` node runs with the ASan runtime preloaded; that driver builds and runs
// these checks itself, outside node.
const UNDER_ASAN = process.env.MCAST_ASAN === '1';

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, tool)));
}

/** True when the tools are there; false (skip) when not, except in CI, where it throws. */
function have(...tools: string[]): boolean {
  const missing = tools.filter((t) => !onPath(t));
  if (missing.length === 0) return true;
  if (process.env.CI) throw new Error(`CI must run the native checks, but ${missing.join(', ')} is missing`);
  return false;
}

/** binding.gyp's source lists, read the way CMakeLists.txt reads them (a JS evaluation without # comments). */
function gypSources(): { core: string[]; binding: string[] } {
  const text = readFileSync(join(ROOT, 'binding.gyp'), 'utf8').replace(/#[^\n]*/g, '');
  const gyp = new Function(`return (${text});`)() as { variables: Record<string, string[]> };
  return { core: gyp.variables.mcast_core_sources ?? [], binding: gyp.variables.mcast_binding_sources ?? [] };
}

/**
 * Runs a program without blocking this worker's event loop (the long builds and fuzz runs would
 * otherwise starve vitest's own messages, which then time out on a loaded machine).
 */
function run(cmd: string, args: readonly string[], options: SpawnOptions = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe.skipIf(UNDER_ASAN)('native checks', () => {
  const cmake = have('cmake', 'clang++');
  let configureLog = '';

  beforeAll(async () => {
    if (!cmake) return;
    const configure = cmakeConfigure(BUILD, 'clang++', ['MCAST_FUZZ=ON']);
    const r = await run(configure.file, configure.args);
    if (r.status !== 0) throw new Error(`cmake-js configure failed:\n${r.stdout}${r.stderr}`);
    configureLog = r.stdout;
  }, 120_000);

  it('binding.gyp lists every native source, and the CMake build reads the same lists', () => {
    const { core, binding } = gypSources();
    const listed = new Set([...core, ...binding]);
    const onDisk = readdirSync(join(ROOT, 'native'))
      .filter((f) => f.endsWith('.cc'))
      .map((f) => `native/${f}`);
    expect(onDisk.filter((f) => !listed.has(f))).toEqual([]);
    expect([...listed].filter((f) => !existsSync(join(ROOT, f)))).toEqual([]);
    if (!cmake) return;
    expect(configureLog).toContain(`mcast core sources (binding.gyp): ${core.join(',')}`);
    expect(configureLog).toContain(`mcast binding sources (binding.gyp): ${binding.join(',')}`);
  });

  it.skipIf(!cmake)('the CMake build is configured through cmake-js, with the headers of node-api-headers', () => {
    expect(configureLog).toContain(`Node-API headers (cmake-js): ${join(ROOT, 'node_modules', 'node-api-headers', 'include')};`);
  });

  describe.skipIf(!cmake)('ASan+UBSan builds', () => {
    beforeAll(async () => {
      const r = await run('cmake', ['--build', BUILD, '-j2', '--target', 'mcast_native_tests', 'fuzz_cmsg', 'fuzz_address', 'fuzz_gro', 'fuzz_moldudp64', 'fuzz_pcap_frames']);
      if (r.status !== 0) throw new Error(`cmake --build failed:\n${r.stdout}${r.stderr}`);
    }, 240_000);

    it('the native unit tests pass (socket tests included: this is the sandbox)', async () => {
      const r = await run(join(BUILD, 'mcast_native_tests'), [], { env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' } });
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^\d+ passed, 0 failed, 0 skipped$/m);
      expect(r.status).toBe(0);
    }, 60_000);

    // The five targets run at once: each still gets its FUZZ_SECONDS of wall time (on two cores,
    // about two fifths of a core each, far above the 1000 inputs asked for), and the file takes
    // one FUZZ_SECONDS instead of five. The full 60 s per target run one after another in CI
    // (`npm run fuzz`).
    it.concurrent.each(['cmsg', 'address', 'gro', 'moldudp64', 'pcap_frames'])(`fuzz_%s runs ${FUZZ_SECONDS} s without a finding (and replays its corpus)`, async (name) => {
      const work = mkdtempSync(join(tmpdir(), `mcast-fuzz-${name}-`));
      cpSync(join(ROOT, 'native', 'fuzz', 'corpus', name), join(work, 'corpus'), { recursive: true });
      const r = await run(
        join(BUILD, `fuzz_${name}`),
        [`-max_total_time=${FUZZ_SECONDS}`, '-max_len=4096', '-print_final_stats=1', `-artifact_prefix=${work}/`, join(work, 'corpus')],
        { env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1' } },
      );
      const out = `${r.stdout}${r.stderr}`;
      const runs = /stat::number_of_executed_units:\s*(\d+)/.exec(out)?.[1];
      console.log(`fuzz_${name}: ${runs ?? '?'} inputs in ${FUZZ_SECONDS} s`);
      expect(out).not.toMatch(/ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:/);
      expect(readdirSync(work).filter((f) => /^(crash|leak|timeout|oom)-/.test(f))).toEqual([]);
      expect(r.status).toBe(0);
      expect(Number(runs)).toBeGreaterThan(1000);
    }, FUZZ_SECONDS * 1000 + 60_000);
  });
});
