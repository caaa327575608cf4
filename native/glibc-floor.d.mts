// Types of native/glibc-floor.mjs, for the tests that import it.
/** A runtime's newest needed symbol version, and the symbols that need it. */
export interface Needed {
  version: string;
  symbols: string[];
}
export const FLOORS: Record<string, Record<'GLIBC' | 'GLIBCXX' | 'CXXABI', string>>;
export function compareVersions(a: string, b: string): number;
export function neededVersions(file: string): Record<string, Needed>;
export function checkFloor(file: string, arch: string): { needed: Record<string, Needed>; problems: string[] };
export function describe(versions: Record<string, string | Needed>): string;
export function elfArch(bytes: Buffer): string;
