// How the bench's contestant programs end on bad input (exit 2) and on failure (exit 1), one line
// on stderr naming the program, like mc_send / mc_recv.

export function usage(message) {
  process.stderr.write(`${process.argv[1]}: ${message}\n`);
  process.exit(2);
}

export function fail(what, error) {
  process.stderr.write(`${process.argv[1]}: ${what}: ${error?.message ?? error}\n`);
  process.exit(1);
}
