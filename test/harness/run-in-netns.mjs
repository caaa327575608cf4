#!/usr/bin/env node
// Runs a command inside a fresh, private network namespace, and never anywhere else.
//
//   node test/harness/run-in-netns.mjs vitest run [args...]
//   node test/harness/run-in-netns.mjs node bench/run.mjs
//
// Outside (the mode users call): re-executes this file with `--inside` under
//   unshare [--map-root-user] --net --mount --fork --kill-child
// (--map-root-user only when not uid 0). If no private namespace can be made, it prints one line
// saying why and exits 1: there is no fallback to the host's network namespace.
//
// Inside (`--inside`): checks that this really is a new network namespace (its inode differs from
// the caller's, `lo` is the only interface, there are no routes), brings `lo` up, mounts a sysfs
// of this namespace on /sys (so /sys/class/net lists this namespace's interfaces; the mount
// namespace is private, so the host never sees it), sets MCAST_NETNS_SANDBOX and runs the command
// (a bare name is looked up in node_modules/.bin first). Arguments, stdio, the exit code and a
// terminating signal pass through; SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to the outer process are
// forwarded to the command. Nothing outlives the run: unshare --kill-child kills the inner process
// if unshare dies, the command runs under `setpriv --pdeathsig KILL`, and the inner process kills
// the command if the outer process goes away.
//
// A control socket (fd 3 of the inner process) carries JSON lines from inside to outside:
// {"pid":N} once started, {"ready":true} once the namespace is checked, {"error":"..."} on failure.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const PROJECT_ROOT = resolve(dirname(SELF), '..', '..');
const TOKEN_ENV = 'MCAST_NETNS_SANDBOX';
const OUTER_ENV = 'MCAST_NETNS_OUTER';
const FORWARDED_SIGNALS = /** @type {const} */ (['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT']);
const PREFIX = 'run-in-netns:';

/** @param {string} msg */
function fail(msg) {
  process.stderr.write(`${PREFIX} ${msg}\n`);
  process.exit(1);
}

/** 'net:[4026531833]' -> '4026531833' */
function netnsInode() {
  const link = readlinkSync('/proc/self/ns/net');
  const m = /^net:\[(\d+)\]$/.exec(link);
  if (!m || !m[1]) throw new Error(`unexpected /proc/self/ns/net link: ${link}`);
  return m[1];
}

/** @param {string} name */
function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return true;
  }
  return false;
}

/**
 * Ends this process the way the child ended: same exit code, or the same signal.
 * @param {number | null} code
 * @param {NodeJS.Signals | null} signal
 */
function exitLike(code, signal) {
  if (signal) {
    for (const s of FORWARDED_SIGNALS) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    // Signals whose default action does not terminate: fall back to 128+n like a shell.
    const n = osConstants.signals[signal] ?? 0;
    setTimeout(() => process.exit(128 + n), 100).unref();
    return;
  }
  process.exit(code ?? 1);
}

// --------------------------------------------------------------------------------------------
// Outside
// --------------------------------------------------------------------------------------------

/** @param {string[]} command */
function outside(command) {
  if (command.length === 0) {
    fail('usage: node test/harness/run-in-netns.mjs COMMAND [ARGS...]');
  }
  const rootless = typeof process.getuid === 'function' && process.getuid() !== 0;
  const unshareArgs = [
    ...(rootless ? ['--map-root-user'] : []),
    '--net',
    '--mount',
    '--propagation',
    'private',
    '--fork',
    '--kill-child',
    '--',
    process.execPath,
    SELF,
    '--inside',
    '--',
    ...command,
  ];
  const why = rootless
    ? 'as a non-root user this needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0, and no AppArmor/SELinux restriction); or run as root'
    : 'as root this needs unshare(1) from util-linux and a kernel with network namespaces (or a container that allows CAP_SYS_ADMIN)';

  const child = spawn('unshare', unshareArgs, {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, [OUTER_ENV]: netnsInode() },
  });

  /** @type {number | null} */
  let innerPid = null;
  let ready = false;
  let reportedError = false;

  const ctl = /** @type {import('node:net').Socket} */ (child.stdio[3]);
  let buf = '';
  ctl.setEncoding('utf8');
  ctl.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const msg = JSON.parse(line);
        if (typeof msg.pid === 'number') innerPid = msg.pid;
        if (msg.ready === true) ready = true;
        if (typeof msg.error === 'string') {
          reportedError = true;
          process.stderr.write(`${PREFIX} refusing to run: ${msg.error}\n`);
        }
      } catch {
        // not ours; ignore
      }
    }
  });
  ctl.on('error', () => {});

  for (const sig of FORWARDED_SIGNALS) {
    process.on(sig, () => {
      if (innerPid !== null) {
        try {
          process.kill(innerPid, sig);
        } catch {
          // already gone
        }
      } else {
        child.kill('SIGKILL'); // not started yet: --kill-child takes the inner process along
      }
    });
  }

  child.on('error', (err) => {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    fail(
      code === 'ENOENT'
        ? `cannot create a private network namespace: unshare(1) not found (install util-linux); refusing to run in the host namespace`
        : `cannot create a private network namespace: ${err.message}; refusing to run in the host namespace`,
    );
  });

  child.on('exit', (code, signal) => {
    // Let the control socket deliver what the inner process wrote before it ended.
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      if (!ready && !reportedError && !signal) {
        process.stderr.write(
          `${PREFIX} cannot create a private network namespace (unshare exited with ${code}): ${why}. Refusing to run in the host namespace.\n`,
        );
        process.exit(1);
      }
      exitLike(code, signal);
    };
    if (ready || reportedError || ctl.readableEnded) finish();
    else {
      ctl.once('end', finish);
      setTimeout(finish, 300);
    }
  });
}

// --------------------------------------------------------------------------------------------
// Inside
// --------------------------------------------------------------------------------------------

/** @param {string[]} command */
function inside(command) {
  /** @type {Socket | null} */
  let ctl = null;
  try {
    ctl = new Socket({ fd: 3, readable: true, writable: true });
  } catch {
    ctl = null;
  }
  /** @param {object} msg */
  const send = (msg) => {
    if (ctl && !ctl.destroyed) ctl.write(`${JSON.stringify(msg)}\n`);
  };
  /** @param {string} msg */
  const refuse = (msg) => {
    send({ error: msg });
    if (!ctl) process.stderr.write(`${PREFIX} refusing to run: ${msg}\n`);
    const done = () => process.exit(1);
    if (ctl) ctl.end(done);
    else done();
    setTimeout(done, 500).unref();
  };

  if (!ctl) return refuse('--inside is internal: call run-in-netns.mjs without it');
  ctl.on('error', () => {});
  send({ pid: process.pid });

  const outer = process.env[OUTER_ENV];
  if (!outer) return refuse(`${OUTER_ENV} is not set: --inside is internal`);
  let here;
  try {
    here = netnsInode();
  } catch (e) {
    return refuse(String(e));
  }
  if (here === outer) return refuse('still in the caller network namespace');

  const devs = readFileSync('/proc/net/dev', 'utf8')
    .split('\n')
    .slice(2)
    .map((l) => l.split(':')[0]?.trim())
    .filter((n) => n);
  if (devs.length !== 1 || devs[0] !== 'lo') {
    return refuse(`the new namespace has unexpected interfaces: ${devs.join(', ')}`);
  }
  const routes = readFileSync('/proc/net/route', 'utf8').trim().split('\n').slice(1);
  if (routes.length > 0) return refuse('the new namespace has IPv4 routes before setup');

  try {
    execFileSync('ip', ['link', 'set', 'lo', 'up'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = /** @type {NodeJS.ErrnoException & {stderr?: Buffer}} */ (e);
    return refuse(
      err.code === 'ENOENT'
        ? 'ip(8) not found: install iproute2'
        : `ip link set lo up failed: ${err.stderr?.toString().trim() ?? err.message}`,
    );
  }
  try {
    execFileSync('mount', ['-t', 'sysfs', '-o', 'nosuid,nodev,noexec', 'sysfs', '/sys'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (e) {
    const err = /** @type {NodeJS.ErrnoException & {stderr?: Buffer}} */ (e);
    return refuse(`mounting this namespace's sysfs on /sys failed: ${err.stderr?.toString().trim() ?? err.message}`);
  }
  const sysNet = readdirSync('/sys/class/net');
  if (sysNet.length !== 1 || sysNet[0] !== 'lo') {
    return refuse(`/sys/class/net still shows other interfaces: ${sysNet.join(', ')}`);
  }

  const token = `${outer}:${here}:${randomBytes(8).toString('hex')}`;
  const binDir = join(PROJECT_ROOT, 'node_modules', '.bin');
  const env = {
    ...process.env,
    [TOKEN_ENV]: token,
    PATH: [binDir, process.env.PATH ?? ''].join(delimiter),
  };

  let [file, ...args] = command;
  if (!file) return refuse('no command given');
  if (!file.includes('/') && existsSync(join(binDir, file))) file = join(binDir, file);
  if (file === 'node') file = process.execPath;

  // setpriv --pdeathsig KILL: the command dies with us even if we are SIGKILLed.
  const viaSetpriv = onPath('setpriv');
  const child = viaSetpriv
    ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', file, ...args], { stdio: 'inherit', env })
    : spawn(file, args, { stdio: 'inherit', env });

  child.on('error', (err) => refuse(`cannot start ${file}: ${err.message}`));
  child.on('spawn', () => send({ ready: true }));
  for (const sig of FORWARDED_SIGNALS) {
    process.on(sig, () => {
      try {
        child.kill(sig);
      } catch {
        // already gone
      }
    });
  }
  // The outer process went away (its end of the control socket closed): take the command along.
  let orphaned = false;
  ctl.on('end', () => {
    orphaned = true;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  ctl.resume();
  child.on('exit', (code, signal) => {
    ctl?.destroy();
    if (orphaned) process.exit(1);
    exitLike(code, signal);
  });
}

const argv = process.argv.slice(2);
if (argv[0] === '--inside') {
  inside(argv[1] === '--' ? argv.slice(2) : argv.slice(1));
} else {
  outside(argv[0] === '--' ? argv.slice(1) : argv);
}
