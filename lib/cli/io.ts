/**
 * What a command needs from its process: output streams, stdin, and a way to hear Ctrl-C.
 * Commands resolve with their exit code and never call process.exit(), so output is flushed.
 */
import type { Readable, Writable } from 'node:stream';

import type { CommandSpec, ParsedArgs } from './args';

export interface Io {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable & { isTTY?: boolean };
}

export interface Command {
  spec: CommandSpec;
  run(args: ParsedArgs, io: Io): Promise<number>;
}

/** Writes one line (a newline is added). */
export function println(stream: Writable, line: string): void {
  stream.write(`${line}\n`);
}

const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof SIGNAL_EXIT;

/** The exit code of a run ended by `signal` (128 + its number, as shells report it). */
export function signalExitCode(signal: StopSignal): number {
  return SIGNAL_EXIT[signal];
}

/** Calls `handler` on SIGINT or SIGTERM until the returned function is called. */
export function onStopSignal(handler: (signal: StopSignal) => void): () => void {
  const listeners = (Object.keys(SIGNAL_EXIT) as StopSignal[]).map((signal) => {
    const listener = (): void => handler(signal);
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
