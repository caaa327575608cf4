#!/usr/bin/env node
/**
 * The `mcast` command (package.json `bin`). This file only dispatches: argument parsing lives in
 * cli/args.ts and cli/values.ts, each command in its own file, and every command uses the public
 * API of the package (./index) only.
 *
 * Exit codes: 0 success, 1 failure (timeout, a failed system call, a failed demo), 2 bad input
 * (one line on stderr).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { EXIT, helpText, parseArgs, UsageError } from './cli/args';
import { runBench } from './cli/bench';
import { type Command, type Io, println } from './cli/io';

// Commands load on demand: `mcast bench`, `--help` and `--version` never load the native addon.
const COMMANDS: Readonly<Record<string, () => Command>> = {
  ifaces: () => (require('./cli/ifaces') as typeof import('./cli/ifaces')).ifacesCommand,
  recv: () => (require('./cli/recv') as typeof import('./cli/recv')).recvCommand,
  send: () => (require('./cli/send') as typeof import('./cli/send')).sendCommand,
  demo: () => (require('./cli/demo') as typeof import('./cli/demo')).demoCommand,
  record: () => (require('./cli/record') as typeof import('./cli/record')).recordCommand,
  replay: () => (require('./cli/replay') as typeof import('./cli/replay')).replayCommand,
  feed: () => (require('./cli/feed') as typeof import('./cli/feed')).feedCommand,
  'feed-send': () => (require('./cli/feed-send') as typeof import('./cli/feed-send')).feedSendCommand,
};

const MAIN_HELP = `Usage: mcast COMMAND [options]

UDP multicast from the command line, with exact control of the interface.

Commands:
  ifaces   list the interfaces: index, name, flags and addresses
  recv     join a group on an interface and print what arrives
  send     send datagrams to a group (MESSAGE, or stdin lines)
  demo     one sender and three receivers on loopback (what \`npm run demo\` runs)
  record   write what a joined socket receives to a pcapng/pcap file, with kernel timestamps
  replay   send the datagrams of a pcap/pcapng file to their groups at the original pace
  feed     A/B line arbitration: join every LINE, print each sequence number once, in order, and the gaps
  feed-send  send one numbered stream on several lines (MoldUDP64 or a counter), a re-request server
  bench    run the benchmark (node bench/run.mjs ARGS...)

'mcast COMMAND --help' describes a command.
Exit codes: 0 success, 1 failure (timeout, system error), 2 bad input.
`;

/** Library errors that mean the input was wrong (exit 2), not that the system failed. */
const INPUT_ERROR_CODES = new Set([
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'ERR_OUT_OF_RANGE',
  'ERR_SOCKET_BAD_PORT',
  'ERR_INVALID_IP_ADDRESS',
  'ERR_MCAST_NOT_MULTICAST',
  'ERR_MCAST_RESERVED_GROUP',
  'ERR_MCAST_BAD_SOURCE',
  'ERR_MCAST_FAMILY_MISMATCH',
  'ERR_MCAST_UNKNOWN_INTERFACE',
  'ERR_MCAST_MESSAGE_TOO_LARGE',
  'ERR_MCAST_BAD_CAPTURE',
]);

function version(): string {
  const pkg = JSON.parse(readFileSync(resolve(__dirname, '..', 'package.json'), 'utf8')) as { version?: unknown };
  return String(pkg.version);
}

/** Prints `error` as one line on stderr and returns the exit code it stands for. */
function report(error: unknown, command: string, io: Io): number {
  const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, ' ').trim();
  if (error instanceof UsageError) {
    const hint = error.message.includes('(see ') ? '' : ` (see 'mcast ${command} --help')`;
    println(io.stderr, `mcast ${command}: ${oneLine(error.message)}${hint}`);
    return EXIT.USAGE;
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
  println(io.stderr, `mcast ${command}: ${oneLine(message)}`);
  return typeof code === 'string' && INPUT_ERROR_CODES.has(code) ? EXIT.USAGE : EXIT.FAILURE;
}

/** Runs the command line `argv` (without node and the script) and resolves with the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? io.stderr : io.stdout).write(MAIN_HELP);
    return name === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (name === '--version' || name === '-V') {
    println(io.stdout, version());
    return EXIT.OK;
  }
  if (name === 'bench') return runBench(rest, io);
  const load = COMMANDS[name];
  if (load === undefined) {
    const what = name.startsWith('-') ? `unknown option '${name}'` : `unknown command '${name}'`;
    println(io.stderr, `mcast: ${what} (commands: ${[...Object.keys(COMMANDS), 'bench'].join(', ')}; see 'mcast --help')`);
    return EXIT.USAGE;
  }
  try {
    const command = load();
    const args = parseArgs(command.spec, rest);
    if (args.help) {
      io.stdout.write(helpText(command.spec));
      return EXIT.OK;
    }
    return await command.run(args, io);
  } catch (error) {
    return report(error, name, io);
  }
}

if (require.main === module) {
  // `mcast recv ... | head -1`: a closed stdout ends the run quietly.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  const io: Io = {
    stdout: process.stdout,
    stderr: process.stderr,
    get stdin() {
      return process.stdin;
    },
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.exitCode = report(error, process.argv[2] ?? '', io);
    },
  );
}
