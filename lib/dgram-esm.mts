/**
 * `mcast/dgram`: Node's `dgram` API on mcast's socket. `import dgram from 'mcast/dgram'` and
 * `require('mcast/dgram')` stand in for `node:dgram`, with recvmmsg batches underneath.
 *
 * @module mcast/dgram
 */
// The ES module entry of mcast/dgram: `import dgram from 'mcast/dgram'` as with `node:dgram`, and
// the named exports. One implementation (the CommonJS build) behind both `import` and `require`;
// the default export is the very object `require('mcast/dgram')` returns, as with node:dgram.
import dgram from './dgram-cjs.cjs';

export { _createSocketHandle, createSocket, Socket } from './dgram.js';
export type * from './dgram.js';
/** The module object itself, the one `require('mcast/dgram')` returns, as `node:dgram`'s default export is. */
export default dgram;
