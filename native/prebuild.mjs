#!/usr/bin/env node
// `npm run prebuild [-- --arch x64 --arch arm64] [--out DIR]`: the N-API prebuilds the package ships,
// prebuilds/linux-x64/mcast.glibc.node and prebuilds/linux-arm64/mcast.glibc.node, from the same
// binding.gyp. Each is built by prebuildify + node-gyp in a scratch copy of what the tarball
// ships for a source build (package.json, binding.gyp, native/*.cc, native/*.h), so build/ of
// this tree (the developer's own addon, which the tests load) is never replaced by a foreign
// architecture's binary, and a file missing from the package's "files" would fail here too.
//
// The architecture that is not the host's is cross-compiled with Debian's cross compiler
// (g++-aarch64-linux-gnu on x64). The addon uses Node-API and libuv's public uv.h, neither of
// which depends on the architecture (the system headers under them come from the cross sysroot),
// so the host's Node headers serve every target: npm_config_nodedir points node-gyp at them when
// the npm configuration does not already, so nothing is downloaded.
//
// The `glibc` tag in the file name makes node-gyp-build pass over these binaries on musl (Alpine),
// where the install compiles from source instead (native/install.cjs). Each binary is checked to
// be of its architecture and to ask for no newer glibc/libstdc++ than native/glibc-floor.mjs states.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { arch as hostArch, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FLOORS, checkFloor, describe, elfArch } from './glibc-floor.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The oldest Node the prebuilds are made for (package.json engines); N-API 8 loads on all later. */
const NODE_TARGET = '20.17.0';
/** The GNU toolchain prefix of each architecture, and the Debian package of its C++ compiler. */
const TOOLCHAINS = {
  x64: { prefix: 'x86_64-linux-gnu-', debian: 'g++-x86-64-linux-gnu' },
  arm64: { prefix: 'aarch64-linux-gnu-', debian: 'g++-aarch64-linux-gnu' },
};

const { values } = parseArgs({ options: { arch: { type: 'string', multiple: true }, out: { type: 'string', default: ROOT } } });
const arches = values.arch ?? Object.keys(FLOORS);
/** Where prebuilds/ goes: this tree, or (for tests) a scratch package. */
const OUT = resolve(values.out);

function fail(message) {
  process.stderr.write(`prebuild: ${message}\n`);
  process.exit(1);
}

function onPath(tool) {
  return spawnSync('sh', ['-c', `command -v "${tool}"`], { stdio: 'ignore' }).status === 0;
}

/** CC/CXX/strip for `arch`: the host's own tools, or the cross toolchain. */
function toolchain(arch) {
  const chain = TOOLCHAINS[arch];
  if (!chain) fail(`unknown architecture ${arch} (known: ${Object.keys(TOOLCHAINS).join(', ')})`);
  if (arch === hostArch()) return { env: {}, strip: 'strip' };
  const cxx = `${chain.prefix}g++`;
  if (!onPath(cxx)) fail(`the ${arch} prebuild needs the cross compiler ${cxx} (Debian: apt-get install ${chain.debian})`);
  return { env: { CC: `${chain.prefix}gcc`, CXX: cxx, LINK: cxx, AR: `${chain.prefix}ar` }, strip: `${chain.prefix}strip` };
}

/** Node's headers for node-gyp without a download: the npm setting, else this Node's own. */
function nodedirEnv() {
  if (process.env.npm_config_nodedir) return {};
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? { npm_config_nodedir: prefix } : {};
}

/** A scratch copy of what the package ships for building from source, with this node_modules. */
function scratchCopy() {
  const dir = mkdtempSync(join(tmpdir(), 'mcast-prebuild-'));
  for (const file of ['package.json', 'binding.gyp']) cpSync(join(ROOT, file), join(dir, file));
  mkdirSync(join(dir, 'native'));
  for (const file of readdirSync(join(ROOT, 'native')).filter((f) => /\.(cc|h)$/.test(f))) {
    cpSync(join(ROOT, 'native', file), join(dir, 'native', file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

const prebuildify = join(ROOT, 'node_modules', 'prebuildify', 'bin.js');

/** Runs prebuildify for `arch` in a scratch copy; resolves with its exit status and output. */
function prebuildifyIn(arch, tools) {
  const work = scratchCopy();
  const args = [prebuildify, '--napi', '--strip', '--strip-bin', tools.strip, '--tag-libc', '--target', NODE_TARGET,
    '--arch', arch, '--out', OUT, work];
  return new Promise((done) => {
    const child = spawn(process.execPath, args, {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...nodedirEnv(), ...tools.env },
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (status, signal) => {
      rmSync(work, { recursive: true, force: true });
      done({ status: status ?? signal, output });
    });
  });
}

/** Builds and checks one prebuild; resolves with the floor problems (fails outright on the rest). */
async function build(arch) {
  const tools = toolchain(arch);
  const out = join(OUT, 'prebuilds', `linux-${arch}`);
  rmSync(out, { recursive: true, force: true });
  const started = Date.now();
  process.stdout.write(`prebuild: linux-${arch}${tools.env.CXX ? ` (cross: ${tools.env.CXX})` : ''}\n`);
  const r = await prebuildifyIn(arch, tools);
  if (r.status !== 0) fail(`prebuildify for linux-${arch} exited with ${r.status}:\n${r.output}`);
  const built = existsSync(out) ? readdirSync(out).filter((f) => f.endsWith('.node')) : [];
  if (built.length !== 1 || built[0] !== 'mcast.glibc.node') fail(`expected prebuilds/linux-${arch}/mcast.glibc.node, found: ${built.join(', ') || 'nothing'}`);
  const file = join(out, built[0]);
  const machine = elfArch(readFileSync(file));
  if (machine !== arch) fail(`${file} is ${machine}, not ${arch}`);
  const { needed, problems } = checkFloor(file, arch);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `prebuild: prebuilds/linux-${arch}/${built[0]}: ${machine}, ${statSync(file).size} bytes, needs ${describe(needed)} (floor ${describe(FLOORS[arch])}), ${seconds} s\n`,
  );
  return problems;
}

// The architectures build side by side (each node-gyp make runs one compiler at a time).
const problems = (await Promise.all(arches.map(build))).flat();
for (const p of problems) process.stderr.write(`prebuild: ${p}\n`);
process.exit(problems.length > 0 ? 1 : 0);
