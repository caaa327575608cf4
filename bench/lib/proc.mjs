// Child processes of the benchmark: spawn (pinned to a CPU with taskset where possible), read
// stdout line by line, wait for a given line, collect the final JSON line, never hang.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const children = new Set();

/** Kills every child still running (on exit, or when the benchmark is interrupted). */
export function killAll(signal = 'SIGKILL') {
  for (const c of children) {
    try {
      c.kill(signal);
    } catch {
      // gone
    }
  }
}

export class Proc {
  /**
   * @param {string} file
   * @param {string[]} args
   * @param {{ cpu?: number | null, label: string, env?: NodeJS.ProcessEnv }} options
   */
  constructor(file, args, { cpu = null, label, env }) {
    this.label = label;
    const argv = cpu === null ? [file, ...args] : ['taskset', '-c', String(cpu), file, ...args];
    this.command = argv.join(' ');
    this.child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    children.add(this.child);
    this.lines = [];
    this.stderr = '';
    this.waiters = [];
    this.exited = false;
    this.exitCode = null;
    this.signal = null;
    let buf = '';
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        this.lines.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      this.#wake();
    });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk) => {
      if (this.stderr.length < 8192) this.stderr += chunk;
    });
    this.exitPromise = new Promise((resolve) => {
      this.child.on('error', (error) => {
        this.stderr += String(error.message);
        this.exited = true;
        children.delete(this.child);
        this.#wake();
        resolve();
      });
      this.child.on('close', (code, signal) => {
        if (buf) this.lines.push(buf);
        buf = '';
        // Diagnostics (BENCH_STDOUT_DIR=DIR; never in a normal run): each process's whole
        // stdout, e.g. V8's --trace-deopt lines of BENCH_SPIN_V8_FLAGS (receivers/mcast-spin.mjs).
        if (process.env.BENCH_STDOUT_DIR) {
          writeFileSync(join(process.env.BENCH_STDOUT_DIR, `${label}-${this.child.pid}.log`), `${this.lines.join('\n')}\n`);
        }
        this.exited = true;
        this.exitCode = code;
        this.signal = signal;
        children.delete(this.child);
        this.#wake();
        resolve();
      });
    });
    this.read = 0;
  }

  #wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  #failure(what) {
    const tail = this.stderr.trim().split('\n').slice(-3).join(' | ');
    return new Error(`${this.label}: ${what}${tail ? ` (stderr: ${tail})` : ''} [${this.command}]`);
  }

  /** The next stdout line that satisfies `match`, within `timeoutMs`. */
  async waitLine(match, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.read < this.lines.length) {
        const line = this.lines[this.read++];
        if (match(line)) return line;
      }
      if (this.exited) throw this.#failure(`exited (${this.exitCode ?? this.signal}) before the expected output`);
      const left = deadline - Date.now();
      if (left <= 0) {
        this.kill();
        throw this.#failure(`timed out after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits for the process to exit (killing it after `timeoutMs`) and parses its JSON line. */
  async json(timeoutMs) {
    const timer = setTimeout(() => this.kill(), timeoutMs);
    await this.exitPromise;
    clearTimeout(timer);
    const line = [...this.lines].reverse().find((l) => l.startsWith('{'));
    if (line === undefined) throw this.#failure(`no JSON result (exit ${this.exitCode ?? this.signal})`);
    try {
      return JSON.parse(line);
    } catch {
      throw this.#failure(`bad JSON: ${line.slice(0, 200)}`);
    }
  }

  kill(signal = 'SIGKILL') {
    if (!this.exited) {
      try {
        this.child.kill(signal);
      } catch {
        // gone
      }
    }
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
