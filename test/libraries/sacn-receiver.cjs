'use strict';
// sacn's Receiver, as in its README: one universe; prints "received" once config.count packets
// came. On "stop": receiver.close().
// config: { receiver: options for new Receiver(), count }
const { Receiver } = require('sacn');
const { config, emit, errorInfo, onStop } = require('./common.cjs');

const packets = [];
const errors = [];
const receiver = new Receiver(config.receiver);
receiver.on('packet', (p) => {
  packets.push({
    universe: p.universe,
    sequence: p.sequence,
    sourceName: p.sourceName,
    sourceAddress: p.sourceAddress,
    priority: p.priority,
    payload: p.payload,
  });
  if (packets.length === config.count) emit('received');
});
for (const event of ['error', 'PacketCorruption', 'PacketOutOfOrder']) {
  receiver.on(event, (err) => errors.push({ event, ...errorInfo(err) }));
}
receiver.socket.on('listening', () => emit('ready'));
onStop(() => receiver.close(() => emit('result', { packets, errors })));
