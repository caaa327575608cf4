// Types of cmake-configure.mjs.
export function cmakeConfigure(build: string, cxx: string, defines?: string[]): { file: string; args: string[] };
