// The ES module entry: one copy of the implementation (the CommonJS build) behind both
// `import` and `require`, so that classes and the loaded addon are never duplicated. Named
// re-exports (not a destructured const) keep `Socket` and `McastError` usable as types too.
export {
  createSocket,
  Socket,
  listInterfaces,
  McastError,
  constants,
  CaptureWriter,
  CaptureReader,
  readCapture,
  CaptureFormatError,
  createFeed,
  Feed,
} from './index.js';
export type * from './index.js';
