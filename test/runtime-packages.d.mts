// Types of runtime-packages.mjs.
export interface RuntimePackage {
  name: string;
  version: string;
  /** Its folder, under the project root. */
  dir: string;
}
export function runtimePackages(root: string): RuntimePackage[];
