// The ES module entry: one copy of the implementation (the CommonJS build) behind both
// `import` and `require`, so that classes and the loaded addon are never duplicated.
import mcast from './index.js';

export const { createSocket, Socket, listInterfaces, McastError, constants } = mcast;
export type * from './index.js';
