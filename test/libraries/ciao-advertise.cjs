'use strict';
// @homebridge/ciao, advertising one service as its README does; on "stop": service.end() (the
// goodbye), then responder.shutdown().
// config: { responder: options for getResponder(), service: options for createService() }
const ciao = require('@homebridge/ciao');
const { config, emit, errorInfo, onStop } = require('./common.cjs');

const errors = [];
const responder = ciao.getResponder(config.responder);
const service = responder.createService(config.service);
service.advertise().then(
  () => emit('ready'),
  (err) => errors.push(errorInfo(err)),
);
onStop(() =>
  service
    .end()
    .then(() => responder.shutdown())
    .catch((err) => errors.push(errorInfo(err)))
    .then(() => emit('result', { state: service.serviceState, errors })),
);
