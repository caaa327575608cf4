// The ES module entry of mcast/dgram: `import dgram from 'mcast/dgram'` as with `node:dgram`, and
// the named exports. One implementation (the CommonJS build) behind both `import` and `require`.
import dgram from './dgram.js';

export { _createSocketHandle, createSocket, Socket } from './dgram.js';
export type * from './dgram.js';
export default dgram;
