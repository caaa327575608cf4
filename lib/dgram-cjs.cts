// The CommonJS entry of mcast/dgram (`require('mcast/dgram')`): a plain object with the module's
// members, set as `module.exports`, with no `__esModule` flag, which is how `require('node:dgram')`
// looks. Compiled ES-module code (TypeScript or Babel with esModuleInterop) turns
// `import dgram from 'mcast/dgram'` into `__importDefault(require('mcast/dgram')).default`: that is
// this object only because the flag is absent (lib/dgram.js has it, being compiled TypeScript).
// The implementation stays in ./dgram; this file only gives it node:dgram's export shape.
import impl = require('./dgram');

namespace dgram {
  /** The dgram socket; see {@link impl.Socket}. */
  export import Socket = impl.Socket;
  /** Creates a socket like `dgram.createSocket`; see {@link impl.createSocket}. */
  export import createSocket = impl.createSocket;
  /** node:dgram's deprecated _createSocketHandle (DEP0112): throws ERR_MCAST_UNSUPPORTED. */
  export import _createSocketHandle = impl._createSocketHandle;
  /** `'udp4' | 'udp6'`, as in node:dgram. */
  export type SocketType = impl.SocketType;
  /** Sender of a received datagram, as in node:dgram. */
  export type RemoteInfo = impl.RemoteInfo;
  /** The options object of `bind()`, as in node:dgram. */
  export type BindOptions = impl.BindOptions;
  /** The options of `createSocket()`: node:dgram's, plus `multicastAll`. */
  export type SocketOptions = impl.SocketOptions;
}

// Every value the implementation exports must be listed in the namespace: tsc fails here when
// one is missing (a member added to ./dgram and not to this entry).
const complete: { [K in keyof typeof impl]: unknown } = dgram;
void complete;

export = dgram;
