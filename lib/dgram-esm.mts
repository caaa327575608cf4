// The ES module entry of mcast/dgram: `import dgram from 'mcast/dgram'` as with `node:dgram`, and
// the named exports. One implementation (the CommonJS build) behind both `import` and `require`;
// the default export is the very object `require('mcast/dgram')` returns, as with node:dgram.
import dgram from './dgram-cjs.cjs';

export { createSocket, Socket } from './dgram.js';
export type * from './dgram.js';
export default dgram;
