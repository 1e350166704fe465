// Subscribe / Unsubscribe with the unmodified @adobe/acc-js-sdk (installed beside this file by npm ci), then force
// the replication of nms:subscription. ACC_URL names the server. Prints one JSON line per step.
'use strict';
const sdk = require('@adobe/acc-js-sdk');

function step(name, value) {
  process.stdout.write(JSON.stringify({ step: name, value: value === undefined ? null : value }) + '\n');
}

(async () => {
  const client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(process.env.ACC_URL, 'admin', 'secret',
                                                                          { noStorage: true }));
  await client.logon();
  const NLWS = client.NLWS;
  step('subscribe', await NLWS.nmsSubscription.subscribe('news,alerts', { email: 'a@x.com', _key: '@email' }, true));
  step('unsubscribe', await NLWS.nmsSubscription.unsubscribe('alerts', { email: 'a@x.com', _key: '@email' }));
  step('subscribe-existing', await NLWS.nmsSubscription.subscribe('alerts', { email: 'a@x.com' }, false));
  try {
    await NLWS.nmsSubscription.subscribe('nope', { email: 'a@x.com' }, true);
    step('fault', null);
  } catch (e) {
    step('fault', String(e.errorCode) + ' ' + String(e.message));
  }
  step('optout', await NLWS.nmsSubscription.unsubscribe('', { email: 'b@x.com' }));
  step('replicate', await NLWS.nmsReplicationStrategy.startReplicateStagingData('nms:subscription'));
  await client.logoff();
})().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
