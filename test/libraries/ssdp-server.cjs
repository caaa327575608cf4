'use strict';
// node-ssdp's Server, as in its README: one USN, started; with config.advertise it sends its
// ssdp:alive NOTIFY at once (server.advertise()) instead of after its 3 s start delay. On
// "stop": server.stop() (ssdp:byebye, then the sockets close).
// config: { server: options for new Server(), usn, advertise }
const { Server } = require('node-ssdp');
const { config, emit, errorInfo, onStop } = require('./common.cjs');

const errors = [];
const server = new Server(config.server);
server.addUSN(config.usn);
server.on('error', (err) => errors.push(errorInfo(err)));
server.start().then(
  () => {
    if (config.advertise) server.advertise();
    emit('ready');
  },
  (err) => errors.push(errorInfo(err)),
);
onStop(() => {
  server.stop();
  emit('result', { errors });
});
