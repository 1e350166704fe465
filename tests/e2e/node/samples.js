// The steps of Adobe's acc-js-sdk samples (github.com/adobe/acc-js-sdk, samples/*.js at 70885ff), written again here
// (not copied) against ferry with the unmodified SDK installed beside this file. Each step names its sample file;
// a sample on a Campaign schema ferry does not hold also runs "adapted" to nms:recipient, so each feature it shows
// is checked on data ferry holds. ACC_URL names the server (admin / secret). Prints one JSON line per step:
// {step, value} or {step, error: {errorCode, statusCode, message}}.
'use strict';
const sdk = require('@adobe/acc-js-sdk');

const url = process.env.ACC_URL;

function print(step, payload) {
  process.stdout.write(JSON.stringify({ step, ...payload }) + '\n');
}

async function step(name, fn) {
  try {
    const value = await fn();
    print(name, { value: value === undefined ? null : value });
  } catch (e) {
    print(name, { error: { errorCode: e.errorCode || null, statusCode: e.statusCode || null,
                           message: String(e.message || e) } });
  }
}

// samples/utils.js#logon: log on, run, log off (one session per sample).
async function logon(fn) {
  const client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(url, 'admin', 'secret',
    { clientApp: 'acc-js-sdk sample', noStorage: true }));
  await client.logon();
  try {
    return await fn(client, client.NLWS);
  } finally {
    await client.logoff();
  }
}

const mapping = (operation, extra) => ({ schema: 'nms:deliveryMapping', operation,
  select: { node: [{ expr: '@id' }, { expr: '@name' }, { expr: '@label' }, { expr: '@schema' }] }, ...extra });
const byName = { where: { condition: [{ expr: "@name='mapRecipient'" }] } };
const recipients = (operation, extra) => ({ schema: 'nms:recipient', operation,
  select: { node: [{ expr: '@email' }, { expr: '@firstName' }, { expr: '@gender' }] }, ...extra });
const byEmail = (email) => ({ where: { condition: [{ expr: sdk.escapeXtk`@email = ${email}` }] } });

(async () => {
  // ---- 000 - basics - logon.js -------------------------------------------------------------------------------------
  await step('000 version', async () => sdk.getSDKVersion());
  await step('000 logon and logoff', async () => {
    const client = await sdk.init(sdk.ConnectionParameters.ofUserAndPassword(url, 'admin', 'secret',
      { noStorage: true }));
    await client.logon();
    const seen = { logged: client.isLogged(), instanceName: client.application.instanceName,
                   buildNumber: client.application.buildNumber };
    await client.logoff();
    return { ...seen, loggedAfter: client.isLogged() };
  });
  await step('000 packages', () => logon(async (client) => ({
    packages: client.application.packages,
    fda: client.application.hasPackage('nms:federatedDataAccess'),
    core: client.hasPackage('nms:core'), ffda: client.hasPackage('nms', 'ffda'),
  })));
  await step('000 current user', () => logon(async (client) => {
    const op = client.application.operator;
    return { id: op.id, login: op.login, computeString: op.computeString, timezone: op.timezone,
             rights: op.rights, admin: op.hasRight('admin') };
  }));
  await step('000 options', () => logon(async (client) => {
    const databaseId = await client.getOption('XtkDatabaseId');
    const cached = await client.getOption('XtkDatabaseId');
    const text = `@adobe/acc-js-sdk version ${sdk.getSDKVersion().version} on 2026-12-07`;
    await client.setOption('ACC_JS_SDK', text);
    const fromCache = await client.getOption('ACC_JS_SDK');
    await client.clearOptionCache();
    const fromServer = await client.getOption('ACC_JS_SDK', false);
    let readOnly = null;
    try { await client.setOption('XtkDatabaseId', 'mine'); } catch (e) { readOnly = e.errorCode + ' ' + e.message; }
    return { databaseId, cached, fromCache, fromServer, readOnly };
  }));
  await step('000 server time', () => logon(async (client, NLWS) => (await NLWS.xtkSession.getServerTime()).getTime()));
  await step('000 serverInfo', () => logon(async (client) => client.getSessionInfo().serverInfo));
  await step('000 userInfo', () => logon(async (client) => client.getSessionInfo().userInfo));

  // ---- 005 - basics - persist.js ("Create a recipient"), also the data of the 001 steps adapted ----------------
  await step('005 write recipients', () => logon(async (client, NLWS) => {
    await NLWS.xtkSession.write({ xtkschema: 'nms:recipient', email: 'amorin@adobe.com' });
    for (const [email, firstName, gender] of [['a@x.com', 'Ann', 2], ['b@x.com', 'Bob', 1], ['c@x.com', 'Cy', 0]])
      await NLWS.xtkSession.write({ xtkschema: 'nms:recipient', email, firstName, gender });
    return null;
  }));

  // ---- 001 - basics - queries.js -----------------------------------------------------------------------------------
  await step('001 get (nms:deliveryMapping)', () => logon(async (client, NLWS) =>
    NLWS.xtkQueryDef.create(mapping('get', byName)).executeQuery()));
  await step('001 select (nms:deliveryMapping)', () => logon(async (client, NLWS) =>
    NLWS.xtkQueryDef.create(mapping('select')).executeQuery()));
  await step('001 getIfExists (nms:deliveryMapping)', () => logon(async (client, NLWS) =>
    NLWS.xtkQueryDef.create(mapping('getIfExists', { where: { condition: [{ expr: "@name='mapNotFound'" }] } }))
      .executeQuery()));
  await step('001 BuildQuery (nms:deliveryMapping)', () => logon(async (client, NLWS) =>
    NLWS.xtkQueryDef.create(mapping('get', byName)).buildQuery()));
  await step('001 get adapted', () => logon(async (client, NLWS) =>
    NLWS.xtkQueryDef.create(recipients('get', byEmail('a@x.com'))).executeQuery()));
  await step('001 select adapted', () => logon(async (client, NLWS) =>
    NLWS.xtkQueryDef.create(recipients('select', { orderBy: { node: [{ expr: '@email' }] } })).executeQuery()));
  await step('001 getIfExists adapted', () => logon(async (client, NLWS) =>
    NLWS.xtkQueryDef.create(recipients('getIfExists', byEmail('nobody@x.com'))).executeQuery()));
  await step('001 pagination adapted', () => logon(async (client, NLWS) => {
    const page = (startLine) => NLWS.xtkQueryDef.create({ schema: 'nms:recipient', operation: 'select', lineCount: 2,
      startLine, select: { node: [{ expr: '@email' }] }, orderBy: { node: [{ expr: '@email' }] } }).executeQuery();
    return [await page(0), await page(2)];
  }));
  await step('001 selectAll', () => logon(async (client, NLWS) => {
    const query = NLWS.xtkQueryDef.create({ schema: 'xtk:option', operation: 'get',
      where: { condition: [{ expr: "@name='XtkDatabaseId'" }] } });
    await query.selectAll(false);
    return { nodes: query.inspect().select.node.length, result: await query.executeQuery() };
  }));
  await step('001 BuildQuery adapted', () => logon(async (client, NLWS) => {
    const query = NLWS.xtkQueryDef.create(recipients('get', byEmail('a@x.com')));
    return { sql: await query.buildQuery(), ex: await query.buildQueryEx() };
  }));
  await step('001 analyze adapted', () => logon(async (client, NLWS) => {
    const plain = await NLWS.xtkQueryDef.create(recipients('get', byEmail('a@x.com'))).executeQuery();
    const def = recipients('get', byEmail('a@x.com'));
    def.select.node[2] = { expr: '@gender', analyze: true };
    const analyzed = await NLWS.xtkQueryDef.create(def).executeQuery();
    const described = await NLWS.xtkQueryDef.create(def).analyze();
    return { plain, analyzed, described };
  }));
  await step('001 alias adapted', () => logon(async (client, NLWS) => {
    const def = recipients('get', byEmail('a@x.com'));
    def.select.node[2] = { expr: '@gender', alias: '@sex' };
    return NLWS.xtkQueryDef.create(def).executeQuery();
  }));

  // ---- 002 - basics - schemas.js -----------------------------------------------------------------------------------
  await step('002 getSchema json', () => logon(async (client) => client.getSchema('xtk:option')));
  await step('002 getSchema xml', () => logon(async (client) =>
    client.DomUtil.toXMLString(await client.getSchema('xtk:option', 'xml'))));
  await step('002 srcSchema (nms:rtEvent)', () => logon(async (client) =>
    client.getEntityIfMoreRecent('xtk:srcSchema', 'nms:rtEvent')));
  await step('002 srcSchema adapted', () => logon(async (client) =>
    client.getEntityIfMoreRecent('xtk:srcSchema', 'nms:recipient')));
  const enumQuery = (name) => ({ schema: 'xtk:enumValue', operation: 'select',
    select: { node: [{ expr: '@id' }, { expr: '@name' }, { expr: '@label' }, { expr: '@img' }, { expr: '@order' }] },
    where: { condition: [{ expr: `[enum/@name]='${name}'` }] } });
  await step('002 enumeration values', () => logon(async (client, NLWS) =>
    NLWS.xtkQueryDef.create(enumQuery('eventType')).executeQuery()));
  await step('002 enumeration values adapted', () => logon(async (client, NLWS) =>
    NLWS.xtkQueryDef.create(enumQuery('gender')).executeQuery()));
  await step('002 application.getSchema', () => logon(async (client) => {
    const schema = await client.application.getSchema('nms:recipient');
    const names = Object.keys(schema.root.children);  // as the sample's show() walks them
    const gender = schema.root.children['@gender'];
    return { id: schema.id, namespace: schema.namespace, name: schema.name, rootLabel: schema.root.label,
             childNames: names, genderType: gender ? gender.type : null, genderEnum: gender ? gender.enum : null,
             enumerations: Object.keys(schema.enumerations) };
  }));
  await step('002 getSchema missing', () => logon(async (client) => client.getSchema('cus:nothere')));

  // ---- 004 - basics - writer.js ------------------------------------------------------------------------------------
  await step('004 GetNewIdsEx', () => logon(async (client, NLWS) => NLWS.xtkSession.getNewIdsEx(1, 'NmsRecipientId')));

  // ---- 005 - basics - persist.js -----------------------------------------------------------------------------------
  await step('005 NewInstance', () => logon(async (client) => {
    const delivery = client.NLWS.nmsDelivery.create({ label: 'Test #1', messageType: '0' });
    return delivery.newInstance();
  }));
  await step('005 Duplicate: the operator query (webapp)', () => logon(async (client, NLWS) =>
    NLWS.xtkQueryDef.create({ schema: 'xtk:operator', operation: 'get', select: { node: [{ expr: '@id' }] },
      where: { condition: [{ expr: "@name='webapp'" }] } }).executeQuery()));
  await step('005 Duplicate: the operator query adapted', () => logon(async (client, NLWS) =>
    NLWS.xtkQueryDef.create({ schema: 'xtk:operator', operation: 'get', select: { node: [{ expr: '@id' },
      { expr: '@name' }, { expr: '@rights' }] }, where: { condition: [{ expr: "@name='admin'" }] } }).executeQuery()));
  await step('005 Duplicate', () => logon(async (client) => {
    const operator = client.NLWS.xtkOperator.create();
    return operator.duplicate('xtk:operator|1');
  }));
  await step('005 created recipient', () => logon(async (client, NLWS) =>
    NLWS.xtkQueryDef.create(recipients('count', byEmail('amorin@adobe.com'))).executeQuery()));
  await step('005 set the folder (GetNewIdsEx)', () => logon(async (client, NLWS) =>
    NLWS.xtkSession.GetNewIdsEx(1, 'XtkNewId')));
  await step('005 folder create', () => logon(async (client) => {
    const folder = client.NLWS.xtkFolder.create();
    folder.name = 'acc_js_sdk_005';
    return folder.save();
  }));
  await step('005 folder write', () => logon(async (client, NLWS) =>
    NLWS.xtkSession.write({ xtkschema: 'xtk:folder', _operation: 'update', name: 'acc_js_sdk_005', label: 'Hi' })));
  await step('005 folder query', () => logon(async (client, NLWS) =>
    NLWS.xtkQueryDef.create({ schema: 'xtk:folder', operation: 'get', select: { node: [{ expr: '@id' }] },
      where: { condition: [{ expr: "@name='acc_js_sdk_005'" }] } }).executeQuery()));

  // ---- 009 - basics - health.js ------------------------------------------------------------------------------------
  await step('009 test', async () => {
    const client = await sdk.init(sdk.ConnectionParameters.ofAnonymousUser(url, { noStorage: true }));
    return client.test();
  });
  await step('009 ping', () => logon(async (client) => client.ping()));
  await step('009 mcPing', () => logon(async (client) =>
    client.application.hasPackage('nms:messageCenter') ? client.mcPing() : 'not installed'));

  // ---- 011 - basics - packages.js ----------------------------------------------------------------------------------
  await step('011 installPackage xml', () => logon(async (client, NLWS) => {
    const doc = sdk.DomUtil.newDocument('pkgDesc');
    const pkg = doc.createElement('package');
    pkg.setAttribute('namespace', 'cus');
    pkg.setAttribute('name', 'sdk');
    doc.documentElement.appendChild(pkg);
    return NLWS.xml.xtkBuilder.installPackage(doc);
  }));
  await step('011 installPackage json', () => logon(async (client, NLWS) =>
    NLWS.xtkBuilder.installPackage({ package: { buildNumber: '*', entities: { schema: 'nms:service' } } })));

  // ---- 020 - encryption.js -----------------------------------------------------------------------------------------
  for (const method of ['encrypt', 'encryptPassword', 'encryptServerPassword', 'hashPassword', 'reEncryptPassword'])
    await step(`020 ${method}`, () => logon(async (client, NLWS) => NLWS.xtkSession[method]('Hello, World')));

  // ---- 030 - basics - workflows.js ---------------------------------------------------------------------------------
  await step('030 postEvent', () => logon(async (client, NLWS) =>
    NLWS.xtkWorkflow.postEvent('WKF20', 'signal', '', { hello: 'world' }, false)));

  // ---- 600 - message center - push event.js ------------------------------------------------------------------------
  await step('600 session token logon', async () => {
    const client = await sdk.init(sdk.ConnectionParameters.ofSessionToken(url, 'mc/mc', { noStorage: true }));
    await client.logon();
    return client.NLWS.xtkQueryDef.create(enumQuery('eventType')).executeQuery();
  });
  await step('600 pushEvent', () => logon(async (client, NLWS) =>
    NLWS.nmsRtEvent.pushEvent({ wishedChannel: 0, type: 'welcome', email: 'a@x.com', ctx: { $firstName: 'Alex' } })));
  await step('600 extAccount', () => logon(async (client, NLWS) =>
    NLWS.xtkQueryDef.create({ schema: 'nms:extAccount', operation: 'select', select: { node: [{ expr: '@id' }] },
      where: { condition: [{ expr: '@type=11' }] } }).executeQuery()));
})().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
