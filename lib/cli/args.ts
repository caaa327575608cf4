/**
 * The command line's argument layer: a small parser driven by a per-command spec, and the one
 * error type for bad input. Every problem becomes a UsageError whose message is one line; the
 * entry point prints it and exits with code 2. Nothing here knows about sockets.
 */

/** Exit codes of the `mcast` command. */
export const EXIT = {
  OK: 0,
  /** A run that did not get what it wanted (timeout, a failed system call, a demo that failed). */
  FAILURE: 1,
  /** Bad input: unknown flag, bad value, not a multicast group, unknown interface... */
  USAGE: 2,
} as const;

/** Bad input. `command` names the subcommand for the message and the help hint. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface OptionSpec {
  /** Long name without dashes, e.g. 'ttl'. */
  name: string;
  /** A flag takes no value; otherwise the value's placeholder, e.g. 'N'. */
  value?: string;
  /** One-letter alias without the dash, e.g. 'c'. */
  short?: string;
  help: string;
}

export interface PositionalSpec {
  name: string;
  required: boolean;
  help: string;
  /** The last positional only: it may be given many times (`LINE [LINE...]`). */
  repeat?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  positionals: readonly PositionalSpec[];
  options: readonly OptionSpec[];
  /** Paragraphs printed after the option list. */
  notes?: readonly string[];
  examples?: readonly string[];
}

export interface ParsedArgs {
  positionals: string[];
  /** Values of value options, by long name. */
  values: Map<string, string>;
  /** Flags that were given, by long name. */
  flags: Set<string>;
  help: boolean;
}

const HELP: OptionSpec = { name: 'help', short: 'h', help: 'show this help' };

function optionLabel(o: OptionSpec): string {
  const long = `--${o.name}${o.value !== undefined ? ` ${o.value}` : ''}`;
  return o.short !== undefined ? `-${o.short}, ${long}` : `    ${long}`;
}

/** The `--help` text of a command. */
export function helpText(spec: CommandSpec): string {
  const usage = [
    `mcast ${spec.name}`,
    ...spec.positionals.map((p) => `${p.required ? p.name : `[${p.name}]`}${p.repeat === true ? ` [${p.name}...]` : ''}`),
    ...(spec.options.length > 0 ? ['[options]'] : []),
  ].join(' ');
  const lines = [`Usage: ${usage}`, '', spec.summary];
  if (spec.positionals.length > 0) {
    lines.push('', 'Arguments:');
    const width = Math.max(...spec.positionals.map((p) => p.name.length));
    for (const p of spec.positionals) lines.push(`  ${p.name.padEnd(width)}  ${p.help}`);
  }
  const options = [...spec.options, HELP];
  const width = Math.max(...options.map((o) => optionLabel(o).length));
  lines.push('', 'Options:');
  for (const o of options) lines.push(`  ${optionLabel(o).padEnd(width)}  ${o.help}`);
  for (const note of spec.notes ?? []) lines.push('', note);
  if (spec.examples !== undefined && spec.examples.length > 0) {
    lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  }
  return `${lines.join('\n')}\n`;
}

function findOption(spec: CommandSpec, arg: string): OptionSpec | undefined {
  const options = [...spec.options, HELP];
  if (arg.startsWith('--')) return options.find((o) => o.name === arg.slice(2));
  return options.find((o) => o.short !== undefined && o.short === arg.slice(1));
}

/**
 * Parses argv (the arguments after the command name). `--name value` and `--name=value` both
 * work, `--` ends the options (so a MESSAGE may start with '-'), a lone '-' is a positional.
 * @throws UsageError for an unknown option, a missing or unexpected value, a repeated option,
 *   or a wrong number of positionals (unless --help was given).
 */
export function parseArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const parsed: ParsedArgs = { positionals: [], values: new Map(), flags: new Set(), help: false };
  const seen = new Set<string>();
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (onlyPositionals || arg === '-' || !arg.startsWith('-')) {
      parsed.positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositionals = true;
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const option = findOption(spec, name);
    if (option === undefined) {
      const hint = /^-\d/.test(arg) ? ` (a value that starts with '-' must follow '--')` : '';
      throw new UsageError(`unknown option '${name}'${hint}`, spec.name);
    }
    if (option === HELP) {
      parsed.help = true;
      continue;
    }
    if (seen.has(option.name)) throw new UsageError(`--${option.name} was given more than once`, spec.name);
    seen.add(option.name);
    if (option.value === undefined) {
      if (eq >= 0) throw new UsageError(`--${option.name} takes no value`, spec.name);
      parsed.flags.add(option.name);
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i];
    if (value === undefined) throw new UsageError(`--${option.name} needs a value (${option.value})`, spec.name);
    parsed.values.set(option.name, value);
  }
  if (parsed.help) return parsed;
  const required = spec.positionals.filter((p) => p.required);
  if (parsed.positionals.length < required.length) {
    const missing = required.slice(parsed.positionals.length).map((p) => p.name);
    throw new UsageError(`missing ${missing.join(' and ')}`, spec.name);
  }
  if (parsed.positionals.length > spec.positionals.length && spec.positionals.at(-1)?.repeat !== true) {
    const extra = parsed.positionals[spec.positionals.length] ?? '';
    const hint = spec.positionals.some((p) => p.name === 'MESSAGE') ? ' (quote a MESSAGE that has spaces)' : '';
    throw new UsageError(`unexpected argument '${extra}'${hint}`, spec.name);
  }
  return parsed;
}
