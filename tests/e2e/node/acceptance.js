// The acceptance scenario of acc-js-sdk-protocol.md §8, run unchanged against ferry with the unmodified
// @adobe/acc-js-sdk, extended with NLWS.nmsReplicationStrategy.startReplicateStagingData between ingest and
// query (ferry's warehouse is filled by the sync, as in Campaign v8). ACC_URL names the server. Prints one JSON
// line per step; exits 1 with the error on the first failed assertion.
'use strict';
const sdk = require('@adobe/acc-js-sdk');
const assert = require('assert');

function step(name, value) {
  process.stdout.write(JSON.stringify({ step: name, value: value === undefined ? null : value }) + '\n');
}

(async () => {
  const ACC_URL = process.env.ACC_URL;
  const client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(ACC_URL, 'admin', 'secret', { noStorage: true }));
  await client.logon();                                   // 1 SOAP call: xtk:session#Logon
  assert(client.isLogged());
  const NLWS = client.NLWS;
  step('logon', true);

  // health (optional)
  const test = await client.test();                       // GET /r/test   → {status:'OK', ...}
  assert.strictEqual(test.status, 'OK');
  const ping = await client.ping();                       // GET /nl/jsp/ping.jsp → {status:'OK', timestamp}
  assert.strictEqual(ping.status, 'OK');
  step('health', true);

  // 1) ingest without reconciliation → returns a generated UUID string
  const u1 = await NLWS.xtkSession.ingest({ xtkschema:'nms:recipient', email:'a@x.com', firstName:'Ann' });
  assert(typeof u1 === 'string' && u1.length > 0);
  // 2) ingest with _key reconciliation → returns ""
  const u2 = await NLWS.xtkSession.ingest({ xtkschema:'nms:recipient', _key:'@email', email:'b@x.com', firstName:'Bob' });
  assert.strictEqual(u2, '');
  // 3) update one record with ingestExt → returns null
  assert.strictEqual(await NLWS.xtkSession.ingestExt({ xtkschema:'nms:recipient', _key:'@email', email:'b@x.com', firstName:'Bobby' }), null);
  // 4) delete one record
  await NLWS.xtkSession.ingestExt({ xtkschema:'nms:recipient', _key:'@email', _operation:'delete', email:'a@x.com' });
  step('ingest', u1);

  // ferry: force the replication of the staged rows into the warehouse (Campaign's own way), then query.
  assert.strictEqual(await NLWS.nmsReplicationStrategy.startReplicateStagingData('nms:recipient'), null);
  step('replicate', true);

  // 5) query back
  const all = await NLWS.xtkQueryDef.create({ schema:'nms:recipient', operation:'select',
    select:{ node:[{expr:'@email'},{expr:'@firstName'}] } }).executeQuery();
  assert.deepStrictEqual(all, { recipient:[{ email:'b@x.com', firstName:'Bobby' }] });
  const bob = await NLWS.xtkQueryDef.create({ schema:'nms:recipient', operation:'get',
    select:{ node:[{expr:'@firstName'}] }, where:{ condition:[{ expr: sdk.escapeXtk`@email = ${'b@x.com'}` }] } }).executeQuery();
  assert.strictEqual(bob.firstName, 'Bobby');
  const gone = await NLWS.xtkQueryDef.create({ schema:'nms:recipient', operation:'getIfExists',
    select:{ node:[{expr:'@email'}] }, where:{ condition:[{ expr:"@email = 'a@x.com'" }] } }).executeQuery();
  assert.strictEqual(gone, null);
  const count = await NLWS.xtkQueryDef.create({ schema:'nms:recipient', operation:'count' }).executeQuery();
  assert.deepStrictEqual(count, { count: '1' });
  step('query', all);

  // optional extras: write / writeCollection / getSchema / fault shape
  await NLWS.xtkSession.write({ xtkschema:'nms:recipient', _operation:'insert', email:'c@x.com' });
  await NLWS.xtkSession.writeCollection({ xtkschema:'nms:recipient', recipient:[{ _operation:'insert', email:'d@x.com' }] });
  const written = await NLWS.xtkQueryDef.create({ schema:'nms:recipient', operation:'select',
    select:{ node:[{expr:'@email'}] }, orderBy:{ node:[{ expr:'@email' }] } }).executeQuery();
  assert.deepStrictEqual(written, { recipient:[{ email:'b@x.com' }, { email:'c@x.com' }, { email:'d@x.com' }] });
  await assert.rejects(NLWS.xtkSession.write({ xtkschema:'nms:recipient', _operation:'insert', email:'c@x.com' }),
    (e) => e.name === 'CampaignException' && /^[A-Z]{3}-\d{6}$/.test(e.errorCode) && /ODB-240000/.test(e.message));
  step('write', written);

  // v7 Write without any key: a new record (Campaign's behaviour).
  assert.strictEqual(await NLWS.xtkSession.write({ xtkschema:'nms:recipient', firstName:'Nokey' }), null);
  const nokey = await NLWS.xtkQueryDef.create({ schema:'nms:recipient', operation:'count',
    where:{ condition:[{ expr:"@firstName = 'Nokey' AND @email IS NULL" }] } }).executeQuery();
  assert.deepStrictEqual(nokey, { count: '1' });
  step('writeNoKey', nokey);

  // Options, user info and the Message Center ping, as a client asks them first.
  const databaseId = await client.getOption('XtkDatabaseId');
  assert.strictEqual(databaseId, client.getSessionInfo().serverInfo.databaseId);
  assert(databaseId !== '' && databaseId !== null);
  const userInfo = await NLWS.xtkSession.getUserInfo();
  assert.strictEqual(userInfo.login, 'admin');
  const mc = await client.mcPing();
  assert.strictEqual(mc.status, 'Ok');
  assert(/^\d+$/.test(mc.eventQueueSize) && /^\d+$/.test(mc.eventQueueMaxSize), JSON.stringify(mc));
  step('session', { databaseId, userInfo, mc: { status: mc.status, eventQueueMaxSize: mc.eventQueueMaxSize } });

  // A subscription (service "news", created by the test), replicated, then its history and date queried.
  assert.strictEqual(await NLWS.nmsSubscription.subscribe('news', { email:'b@x.com', _key:'@email' }, false), null);
  assert.strictEqual(await NLWS.nmsReplicationStrategy.startReplicateStagingData('nms:subscription'), null);
  const history = await NLWS.xtkQueryDef.create({ schema:'nms:subHisto', operation:'select',
    select:{ node:[{expr:'@serviceName'},{expr:'@action'},{expr:'@origin'}] } }).executeQuery();
  assert.deepStrictEqual(history, { subHisto:[{ serviceName:'news', action:'1', origin:'soap' }] });
  const subscription = await NLWS.xtkQueryDef.create({ schema:'nms:subscription', operation:'get',
    select:{ node:[{expr:'@serviceName'},{expr:'@created'},{expr:'@lastModified'}] } }).executeQuery();
  assert.strictEqual(subscription.serviceName, 'news');
  assert(!isNaN(Date.parse(subscription.created)) && !isNaN(Date.parse(subscription.lastModified)));
  step('subscription', history);

  const schema = await client.getSchema('nms:recipient');
  assert(schema !== null);
  assert.strictEqual(await client.getSchema('nms:nothere'), null);
  const rich = await client.application.getSchema('nms:recipient');
  assert(rich.root.children.get('@email') !== undefined, 'application.getSchema sees @email');
  step('schema', true);

  await assert.rejects(NLWS.xtkQueryDef.create({ schema:'nms:recipient', operation:'get',
    select:{ node:[{expr:'@email'}] }, where:{ condition:[{ expr:"@email = 'zz'" }] } }).executeQuery(),
    (e) => e.name === 'CampaignException' && /^[A-Z]{3}-\d{6}$/.test(e.errorCode)
      && e.message.split('The record was not found').length === 2);
  // The SDK's message is faultstring + '. ' + detail: ferry's text shows once, its code stays in it.
  let refused;
  await assert.rejects(NLWS.xtkSession.ingest({ xtkschema:'nms:recipient', email:'z@x.com', nope:'1' }),
    (e) => { refused = e.message; return e.errorCode === 'SOP-330011'; });
  assert.strictEqual(refused.split("'nope'").length, 2, refused);
  assert(/FRY-100005/.test(refused), refused);
  step('fault', refused);

  await client.logoff();                                  // xtk:session#Logoff
  assert(!client.isLogged());
  step('logoff', true);
})().catch((err) => {
  process.stdout.write(JSON.stringify({ step: 'error', value: String(err && (err.stack || err.message || err)) }) + '\n');
  process.exit(1);
});
