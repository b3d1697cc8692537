// Binds to the smsgw simulator with the npm 'smpp' package (not written
// here), submits messages and waits for their receipts; exits non-zero on
// any mismatch. Usage: node interop.js HOST:PORT CONTROL_HOST:PORT
'use strict';
const smpp = require('smpp');
const http = require('http');

const [smscAddr, controlAddr] = process.argv.slice(2);
if (!smscAddr || !controlAddr) {
  console.error('usage: node interop.js HOST:PORT CONTROL_HOST:PORT');
  process.exit(2);
}
const fail = (msg) => { console.error('FAIL:', msg); process.exit(1); };
setTimeout(() => fail('timed out after 20s'), 20000).unref();

const cases = [
  { to: '447700900123', stat: 'DELIVRD', err: '000' },
  { to: '447700901400', stat: 'UNDELIV', err: '001' },
  { to: '447700901408', stat: 'REJECTD', err: '000' },
];
let passed = 0;
const total = cases.length + 3; // + wrong password, bind, MO
const ok = (what) => { passed++; console.log('ok', what); if (passed === total) { console.log(`${passed} passed, 0 failed`); process.exit(0); } };

// A wrong password must be refused with ESME_RINVPASWD (0x0E).
const bad = smpp.connect({ url: `smpp://${smscAddr}` });
bad.on('error', (e) => fail('bad bind socket: ' + e.message));
bad.bind_transceiver({ system_id: 'smsgw', password: 'wrong' }, (pdu) => {
  if (pdu.command_status !== 0x0E) fail(`wrong password: status ${pdu.command_status}, want 14`);
  ok('wrong password refused with ESME_RINVPASWD');
  bad.close();
});

const session = smpp.connect({ url: `smpp://${smscAddr}` });
session.on('error', (e) => fail('socket: ' + e.message));
const byId = new Map();
session.on('deliver_sm', (pdu) => {
  session.send(pdu.response());
  const text = pdu.short_message && pdu.short_message.message !== undefined ? String(pdu.short_message.message) : String(pdu.short_message);
  if ((pdu.esm_class & 0x3c) === 0x04) {
    const id = (text.match(/id:(\S+)/) || [])[1];
    const stat = (text.match(/stat:(\S+)/) || [])[1];
    const err = (text.match(/err:(\S+)/) || [])[1];
    const c = byId.get(id);
    if (!c) fail(`receipt for unknown id ${id}: ${text}`);
    if (stat !== c.stat || err !== c.err) fail(`receipt for ${c.to}: stat ${stat} err ${err}, want ${c.stat} ${c.err}`);
    if (pdu.receipted_message_id !== undefined && String(pdu.receipted_message_id) !== id) fail(`receipted_message_id ${pdu.receipted_message_id} != ${id}`);
    byId.delete(id);
    ok(`receipt ${stat} err:${err} for ${c.to}`);
  } else {
    if (text !== 'YES please') fail(`MO text ${JSON.stringify(text)}`);
    if (pdu.source_addr !== '447700900123') fail(`MO source ${pdu.source_addr}`);
    ok('MO received');
  }
});
session.bind_transceiver({ system_id: 'smsgw', password: 'secret' }, (pdu) => {
  if (pdu.command_status !== 0) fail(`bind status ${pdu.command_status}`);
  ok('bind_transceiver');
  for (const c of cases) {
    session.submit_sm({ source_addr: 'ACME', destination_addr: c.to, short_message: 'interop ' + c.to, registered_delivery: 1 }, (resp) => {
      if (resp.command_status !== 0) fail(`submit to ${c.to}: status ${resp.command_status}`);
      byId.set(resp.message_id, c);
    });
  }
  const body = JSON.stringify({ from: '+447700900123', to: 'ACME', text: 'YES please' });
  const [host, port] = controlAddr.split(':');
  const req = http.request({ host, port, path: '/mo', method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
    if (res.statusCode !== 202) fail(`POST /mo: ${res.statusCode}`);
    res.resume();
  });
  req.on('error', (e) => fail('POST /mo: ' + e.message));
  req.end(body);
});
