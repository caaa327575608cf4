// The one way the instrumented builds (CMakeLists.txt) are configured: through cmake-js, which
// passes the Node-API headers of the node-api-headers package and node-addon-api's include dir
// (CMAKE_JS_INC) because package.json says "binary": { "napi_versions": [...] } — no header
// download, so it works with only the npm registry reachable. Unix Makefiles on every machine
// (cmake-js would pick Ninja where it happens to be installed) and RelWithDebInfo, so that the
// sanitizer, valgrind and fuzzer reports have line numbers. Building stays `cmake --build DIR`.
//
//   const { file, args } = cmakeConfigure('build-asan', 'clang++', ['MCAST_SANITIZE=ON']);
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CMAKE_JS = join(dirname(createRequire(import.meta.url).resolve('cmake-js/package.json')), 'bin', 'cmake-js');

/**
 * The command that configures `build` (absolute, or relative to the project root) with the C++
 * compiler `cxx` and the CMake cache entries `defines` ('NAME=VALUE').
 * @param {string} build
 * @param {string} cxx
 * @param {string[]} defines
 * @returns {{ file: string, args: string[] }}
 */
export function cmakeConfigure(build, cxx, defines = []) {
  return {
    file: process.execPath,
    args: [
      CMAKE_JS, 'configure', '--directory', ROOT, '--out', resolve(ROOT, build), '--prefer-make',
      '--config', 'RelWithDebInfo', '--cxx', cxx, ...defines.map((d) => `--CD${d}`),
    ],
  };
}
