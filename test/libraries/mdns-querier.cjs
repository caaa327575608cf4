'use strict';
// multicast-dns, the querier of its README: asks for one name and type, waits for the answer.
// config: { mdns: options for multicast-dns, name, type, timeoutMs }
const mdns = require('multicast-dns');
const { config, emit, errorInfo, finishOnce, uniqueSorted } = require('./common.cjs');

const answers = [];
const from = [];
const errors = [];
const warnings = [];
const querier = mdns(config.mdns);
const finish = finishOnce(config.timeoutMs, (timedOut) =>
  querier.destroy(() =>
    emit('result', { answers: uniqueSorted(answers), from: uniqueSorted(from), errors, warnings, timedOut }),
  ),
);
querier.on('error', (err) => {
  errors.push(errorInfo(err));
  finish();
});
querier.on('warning', (err) => warnings.push(errorInfo(err)));
querier.on('response', (response, rinfo) => {
  for (const a of response.answers) {
    if (a.name !== config.name) continue;
    answers.push({ name: a.name, type: a.type, data: a.data });
    from.push(rinfo.address);
    finish();
  }
});
querier.on('ready', () => querier.query({ questions: [{ name: config.name, type: config.type }] }));
