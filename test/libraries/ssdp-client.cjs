'use strict';
// node-ssdp's Client, as in its README: with config.search it sends one M-SEARCH and ends on the
// first response; without, it listens for NOTIFY (advertise-alive / advertise-bye) until told
// to stop. Either way it ends with client.stop().
// config: { client: options for new Client(), search, timeoutMs }
const { Client } = require('node-ssdp');
const { config, emit, errorInfo, finishOnce, onStop, uniqueSorted } = require('./common.cjs');

const responses = [];
const alive = [];
const bye = [];
const errors = [];
const client = new Client(config.client);
const finish = finishOnce(config.timeoutMs, (timedOut) => {
  client.stop();
  emit('result', { responses: uniqueSorted(responses), alive: uniqueSorted(alive), bye: uniqueSorted(bye), errors, timedOut });
});
client.on('error', (err) => errors.push(errorInfo(err)));
client.on('response', (headers, statusCode, rinfo) => {
  responses.push({ statusCode, ST: headers.ST, USN: headers.USN, LOCATION: headers.LOCATION, from: rinfo.address });
  finish();
});
client.on('advertise-alive', (headers, rinfo) => {
  alive.push({ NT: headers.NT, USN: headers.USN, LOCATION: headers.LOCATION, from: rinfo.address });
  emit('alive');
});
client.on('advertise-bye', (headers, rinfo) => {
  bye.push({ NT: headers.NT, USN: headers.USN, from: rinfo.address });
  emit('bye');
});
if (config.search) {
  client.search(config.search);
} else {
  client.start().then(
    () => emit('ready'),
    (err) => errors.push(errorInfo(err)),
  );
  onStop(finish);
}
