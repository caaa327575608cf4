'use strict';
// bonjour-service, publishing one service as its README does; on "stop": unpublishAll (the
// goodbye packets), then destroy.
// config: { bonjour: options for new Bonjour(), service: options for publish() }
const { Bonjour } = require('bonjour-service');
const { config, emit, errorInfo, onStop } = require('./common.cjs');

const errors = [];
const bonjour = new Bonjour(config.bonjour, (err) => errors.push(errorInfo(err)));
const service = bonjour.publish(config.service);
service.on('up', () => emit('ready'));
service.on('error', (err) => errors.push(errorInfo(err)));
onStop(() =>
  bonjour.unpublishAll(() => bonjour.destroy(() => emit('result', { published: service.published, errors }))),
);
