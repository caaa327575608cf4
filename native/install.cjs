#!/usr/bin/env node
// npm's "install" script. With a prebuilt binary that loads on this machine (prebuilds/linux-x64
// and prebuilds/linux-arm64, glibc) it does nothing and prints nothing. Otherwise (musl/Alpine,
// another architecture, a glibc older than the prebuild needs, or `npm install
// --build-from-source`) it says so in one line and compiles the shipped sources with node-gyp;
// when the tools for that are missing it names them, with the packages that bring them, in one
// line and fails the install. node-gyp's own output goes to a log file: a failed compile prints
// the compiler's error lines and where the log is, never node-gyp's stack trace.
//
// node-gyp-build (which loads the addon at run time) picks the binary, so this script and the
// loader agree on what fits: the same platform, architecture and libc rules, and the same
// overrides (npm_config_arch, npm_config_platform, LIBC), which the tests use to simulate a
// machine with no fitting prebuild.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
/** The packages that bring python3, make and a C++ compiler (lib/binding.ts names them too). */
const PACKAGES =
  'Debian/Ubuntu: apt-get install python3 make g++; Alpine: apk add python3 make g++; Fedora/RHEL: dnf install python3 make gcc-c++';

function say(line) {
  process.stderr.write(`mcast: ${line}\n`);
}

/** What node-gyp-build matches prebuilds against, e.g. 'linux-arm64 (glibc)'. */
function machine() {
  const platform = process.env.npm_config_platform || os.platform();
  const arch = process.env.npm_config_arch || os.arch();
  const libc = process.env.LIBC || (platform === 'linux' && fs.existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
  return `${platform}-${arch} (${libc})`;
}

/** The first line of an error, without node's "Error:" noise. */
function firstLine(error) {
  return String((error && error.message) || error).split('\n')[0];
}

/** Why the shipped prebuilds do not serve this machine, or null when one loads. */
function whyNoPrebuild() {
  if (process.env.npm_config_build_from_source === 'true') return 'building from source as asked (--build-from-source)';
  let file;
  try {
    // Looks in build/ first, then prebuilds/: an earlier source build counts as a binary too.
    file = require('node-gyp-build').path(ROOT);
  } catch {
    return `no prebuilt binary for ${machine()}`;
  }
  try {
    // dlopen: catches a binary that is there but cannot load (a glibc older than it needs).
    require(file);
    return null;
  } catch (error) {
    return `${path.relative(ROOT, file)} does not load here (${firstLine(error)})`;
  }
}

function onPath(tool) {
  return (process.env.PATH || '').split(path.delimiter).some((dir) => {
    if (!dir) return false;
    try {
      fs.accessSync(path.join(dir, tool), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The tools node-gyp's make build runs that are missing here. */
function missingTools() {
  const cxx = (process.env.CXX || 'g++').split(' ')[0];
  const python = process.env.PYTHON || process.env.npm_config_python || 'python3';
  return [python, 'make', cxx].filter((tool) => !(path.isAbsolute(tool) ? fs.existsSync(tool) : onPath(tool)));
}

/** node-gyp as npm runs it for install scripts (npm ships one), else a local or global one. */
function nodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed next to mcast: npm's own is the usual one
  }
  const script = candidates.find((file) => file && fs.existsSync(file));
  if (script) return { file: process.execPath, args: [script] };
  return onPath('node-gyp') ? { file: 'node-gyp', args: [] } : null;
}

/**
 * The lines of a node-gyp log worth showing: the compiler's and make's errors, then node-gyp's
 * own error message (the first "gyp ERR! stack" line is the message; the frames after it are not
 * shown).
 */
function errorLines(log) {
  const lines = log.split('\n');
  const compiler = lines.filter((l) => /(^|\s|:)(fatal )?error:|^make(\[\d+\])?: \*\*\*/.test(l) && !l.startsWith('gyp ')).slice(0, 12);
  const message = lines.find((l) => l.startsWith('gyp ERR! stack '));
  return message ? [...compiler, `node-gyp: ${message.slice('gyp ERR! stack '.length)}`] : compiler;
}

function main() {
  const reason = whyNoPrebuild();
  if (reason === null) return 0;

  const missing = missingTools();
  if (missing.length > 0) {
    say(`${reason}, and compiling from source needs ${missing.join(', ')}, not found on PATH; install them (${PACKAGES}) and install mcast again`);
    return 1;
  }
  const gyp = nodeGyp();
  if (gyp === null) {
    say(`${reason}, and compiling from source needs node-gyp, which npm ships: install mcast with npm`);
    return 1;
  }
  say(`${reason}; compiling from source with node-gyp (python3, make and a C++17 compiler)`);

  const log = path.join(os.tmpdir(), `mcast-build-${process.pid}.log`);
  const result = spawnSync(gyp.file, [...gyp.args, 'rebuild'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 << 20 });
  const output = `${result.stdout || ''}${result.stderr || ''}${result.error ? `\n${result.error.message}` : ''}`;
  fs.writeFileSync(log, output);
  if (result.status !== 0) {
    say(`compiling from source failed (node-gyp exited with ${result.status === null ? result.signal || result.error : result.status}); the whole log is ${log}:`);
    for (const line of errorLines(output)) process.stderr.write(`  ${line}\n`);
    return 1;
  }
  let built;
  try {
    built = require('node-gyp-build').path(ROOT);
    require(built);
  } catch (error) {
    say(`compiled from source, but the result does not load: ${firstLine(error)} (log: ${log})`);
    return 1;
  }
  fs.rmSync(log, { force: true });
  say(`compiled from source: ${path.relative(ROOT, built)}`);
  return 0;
}

module.exports = { BUILD_PACKAGES: PACKAGES };
if (require.main === module) process.exitCode = main();
