// The ES module entry of mcast/register (`node --import mcast/register app.mjs`): the same hooks
// as `node -r mcast/register`, installed by the one CommonJS implementation.
export { dgramPath } from './register.js';
