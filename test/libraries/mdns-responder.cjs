'use strict';
// multicast-dns, the responder of its README: answers queries for one name with one record.
// config: { mdns: options for multicast-dns, name, type: 'A' | 'AAAA', data }
const mdns = require('multicast-dns');
const { config, emit, errorInfo, onStop, uniqueSorted } = require('./common.cjs');

const queries = [];
const errors = [];
const warnings = [];
const responder = mdns(config.mdns);
responder.on('error', (err) => errors.push(errorInfo(err)));
responder.on('warning', (err) => warnings.push(errorInfo(err)));
responder.on('ready', () => emit('ready'));
responder.on('query', (query) => {
  for (const q of query.questions) {
    queries.push({ name: q.name, type: q.type });
    if (q.name === config.name && (q.type === config.type || q.type === 'ANY')) {
      responder.respond({ answers: [{ name: config.name, type: config.type, ttl: 120, data: config.data }] });
    }
  }
});
onStop(() =>
  responder.destroy(() => emit('result', { queries: uniqueSorted(queries), errors, warnings })),
);
