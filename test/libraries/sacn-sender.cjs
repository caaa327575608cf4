'use strict';
// sacn's Sender, as in its README: sends config.count packets to one universe, then close().
// config: { sender: options for new Sender(), count, payload, sourceName }
const { Sender } = require('sacn');
const { config, emit, errorInfo } = require('./common.cjs');

const sender = new Sender(config.sender);
(async () => {
  const errors = [];
  let sent = 0;
  for (let i = 0; i < config.count; i++) {
    try {
      await sender.send({ payload: config.payload, sourceName: config.sourceName, priority: 100 });
      sent += 1;
    } catch (err) {
      errors.push(errorInfo(err));
    }
  }
  sender.close();
  emit('result', { sent, errors });
})();
