// xtk:workflow Start / StartWithParameters / Stop with the unmodified @adobe/acc-js-sdk, by internal name, as
// NLWS.xtkWorkflow.start('name') sends them. ACC_URL names the server; the workflow `counter` exists there. Between
// calls it waits (polling the REST API) for the run to end, as one run of a workflow goes at a time.
'use strict';
const sdk = require('@adobe/acc-js-sdk');

function step(name, value) {
  process.stdout.write(JSON.stringify({ step: name, value: value === undefined ? null : value }) + '\n');
}

async function rest(path, options) {
  const reply = await fetch(process.env.ACC_URL + '/api/v1' + path, options);
  return reply.json();
}

(async () => {
  const client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(process.env.ACC_URL, 'admin', 'secret',
                                                                          { noStorage: true }));
  await client.logon();
  const NLWS = client.NLWS;
  const tokens = await rest('/logon', { method: 'POST', headers: { 'Content-Type': 'application/json' },
                                        body: JSON.stringify({ login: 'admin', password: 'secret' }) });
  const headers = { Authorization: 'Bearer ' + tokens.sessionToken, 'X-Security-Token': tokens.securityToken };
  async function idle(runs) {
    for (;;) {
      const found = await rest('/workflow/counter', { headers });
      if (found.runs.length >= runs && found.runs.every((r) => r.state !== 'running')) return found;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  step('start', await NLWS.xtkWorkflow.start('counter'));
  await idle(1);
  step('startWithParameters', await NLWS.xtkWorkflow.startWithParameters('counter', { who: 'sdk' }));
  const done = await idle(2);
  step('stop', await NLWS.xtkWorkflow.stop('counter'));
  try {
    await NLWS.xtkWorkflow.start('nope');
    step('fault', null);
  } catch (e) {
    step('fault', String(e.errorCode) + ' ' + String(e.message));
  }
  step('runs', done.runs.map((r) => [r.trigger, r.state, r.vars]));
  await client.logoff();
})().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
