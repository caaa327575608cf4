'use strict';
// Shared by the scenario programs of test/libraries.test.ts. Each program runs one library's own
// scenario, unchanged, in a child node process: `node [-r mcast/register] PROGRAM CONFIG_JSON`.
// It prints JSON lines on stdout: {"event":"impl"} first (which dgram the library got), then the
// events the test waits for, and at the end {"event":"result", ...} with what it observed. It
// never calls process.exit(): whether it ends by itself is part of what the test compares. An
// uncaught exception is printed as {"event":"uncaught"} and ends the process with code 1, as
// Node itself would end it.
const dgram = require('dgram');

/** The scenario's settings: the JSON text of argv[2]. */
const config = JSON.parse(process.argv[2] || '{}');

/** Prints one observation line. */
function emit(event, data = {}) {
  process.stdout.write(JSON.stringify({ event, ...data }) + '\n');
}

/** The parts of an error that a program can see: the same for both implementations, or a finding. */
function errorInfo(err) {
  if (!(err instanceof Error)) return { thrown: String(err) };
  const info = { name: err.name, message: err.message };
  for (const key of ['code', 'errno', 'syscall', 'address', 'port']) if (err[key] !== undefined) info[key] = err[key];
  return info;
}

function fatal(kind) {
  return (err) => {
    emit('uncaught', { kind, error: errorInfo(err) });
    process.exit(1);
  };
}
process.on('uncaughtException', fatal('exception'));
process.on('unhandledRejection', fatal('rejection'));

emit('impl', { impl: dgram === process.getBuiltinModule('dgram') ? 'node:dgram' : 'mcast/dgram' });

/** Stops reading stdin (set by onStop): a program that is done must not be kept alive by it. */
let releaseStdin = () => {};

/**
 * Calls `stop` once, when the test writes "stop" to stdin (or closes it). stdin is destroyed
 * first, so that only the library's own handles decide whether the process then exits.
 */
function onStop(stop) {
  let buffered = '';
  let done = false;
  releaseStdin = () => {
    done = true;
    process.stdin.destroy();
  };
  const fire = () => {
    if (done) return;
    releaseStdin();
    stop();
  };
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    buffered += chunk;
    if (buffered.includes('stop')) fire();
  });
  process.stdin.on('end', fire);
}

/**
 * Runs `finish` once: when the program calls the returned function (it saw what it waited for),
 * after `ms` (it did not), or on "stop". The timer is cleared and stdin released either way, so
 * neither keeps the process alive.
 */
function finishOnce(ms, finish) {
  let done = false;
  const timer = setTimeout(() => run(true), ms);
  function run(timedOut) {
    if (done) return;
    done = true;
    clearTimeout(timer);
    releaseStdin();
    finish(timedOut === true);
  }
  return () => run(false);
}

/** Sorted, duplicate-free copy of a list of JSON-able values (answers repeat on the wire). */
function uniqueSorted(values) {
  return [...new Set(values.map((v) => JSON.stringify(v)))].sort().map((s) => JSON.parse(s));
}

module.exports = { config, emit, errorInfo, onStop, finishOnce, uniqueSorted };
