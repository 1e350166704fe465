// Drives ferry with the unmodified @adobe/acc-js-sdk. After each step it prints one JSON line and waits for a
// line on stdin, so the Python test can look at staging between steps. ACC_URL names the server.
'use strict';
const sdk = require('@adobe/acc-js-sdk');
const assert = require('assert');
const readline = require('readline');

const lines = readline.createInterface({ input: process.stdin });
const waiting = [];
lines.on('line', () => { const next = waiting.shift(); if (next) next(); });

async function step(name, value) {
  process.stdout.write(JSON.stringify({ step: name, value: value === undefined ? null : value }) + '\n');
  await new Promise((resolve) => waiting.push(resolve));
}

(async () => {
  const url = process.env.ACC_URL;
  const client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(url, 'admin', 'secret', { noStorage: true }));
  await client.logon();
  assert(client.isLogged());
  await step('logon', true);
  const test = await client.test();
  assert.strictEqual(test.status, 'OK');
  const ping = await client.ping();
  assert.strictEqual(ping.status, 'OK');
  await step('health', ping.status);
  const NLWS = client.NLWS;
  const u1 = await NLWS.xtkSession.ingest({ xtkschema: 'dem:sampleTable', testcol1: 'sdk-a', testcol2: 'one' });
  assert(typeof u1 === 'string' && u1.length === 36, `ingest returned ${u1}`);
  await step('ingest', u1);
  const u2 = await NLWS.xtkSession.ingest({ xtkschema: 'dem:sampleTable', _key: '@id', id: 'SDK-K1', testcol1: 'sdk-b' });
  assert.strictEqual(u2, '');
  await step('ingestKey', u2);
  const up = await NLWS.xtkSession.ingestExt({ xtkschema: 'dem:sampleTable', _key: '@id', id: 'SDK-K1', testcol2: 'two' });
  assert.strictEqual(up, null);
  await step('ingestExtUpdate', up);
  const del = await NLWS.xtkSession.ingestExt({ xtkschema: 'dem:sampleTable', _key: '@id', _operation: 'delete', id: 'SDK-K1' });
  assert.strictEqual(del, null);
  await step('ingestExtDelete', del);
  assert.notStrictEqual(await client.getSchema('dem:sampleTable'), null);
  assert.strictEqual(await client.getSchema('nms:nothere'), null);
  await assert.rejects(
    NLWS.xtkSession.ingest({ xtkschema: 'dem:sampleTable', nope: 'x' }),
    (e) => e.name === 'CampaignException' && e.errorCode === 'SOP-330011' && /FRY-100005/.test(e.message));
  await step('schemasAndFault', true);
  await client.logoff();
  assert(!client.isLogged());
  await step('logoff', true);
  lines.close();
})().catch((err) => {
  process.stdout.write(JSON.stringify({ step: 'error', value: String(err && (err.stack || err.message || err)) }) + '\n');
  process.exit(1);
});
