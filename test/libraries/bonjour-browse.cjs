'use strict';
// bonjour-service, browsing for one service type as its README does: prints "up" and "down" as
// services come and go, and ends (browser.stop(), destroy()) when told to, or after a "down"
// once config.untilDown is set.
// config: { bonjour: options for new Bonjour(), type, untilDown, timeoutMs }
const { Bonjour } = require('bonjour-service');
const { config, emit, errorInfo, finishOnce, onStop, uniqueSorted } = require('./common.cjs');

const up = [];
const down = [];
const errors = [];
const bonjour = new Bonjour(config.bonjour, (err) => errors.push(errorInfo(err)));
const browser = bonjour.find({ type: config.type });
const summary = (s) => ({
  name: s.name,
  type: s.type,
  protocol: s.protocol,
  port: s.port,
  host: s.host,
  txt: s.txt,
  addresses: [...(s.addresses ?? [])].sort(),
});
const finish = finishOnce(config.timeoutMs, (timedOut) => {
  browser.stop();
  bonjour.destroy(() => emit('result', { up: uniqueSorted(up), down: uniqueSorted(down), errors, timedOut }));
});
browser.on('up', (s) => {
  up.push(summary(s));
  emit('up', { name: s.name });
});
browser.on('down', (s) => {
  down.push(summary(s));
  emit('down', { name: s.name });
  if (config.untilDown) finish();
});
onStop(finish);
emit('ready');
