// certless as the credential of an Azure SDK pipeline: @azure/core-rest-pipeline's
// bearerTokenAuthenticationPolicy calls a local HTTP server with `Authorization: Bearer <token>`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  bearerTokenAuthenticationPolicy, createEmptyPipeline, createHttpHeaders, createPipelineRequest, createDefaultHttpClient,
} from '@azure/core-rest-pipeline';

import { Credential } from '../index.mjs';
import { Emulator, GRAPH } from './helpers/emulator.mjs';

let emu;
let server;
let baseUrl;
let tls;
const seen = [];

before(async () => {
  emu = await Emulator.start();
  emu.applyEnv();
  // The "API": https on loopback (the policy sends bearer tokens over TLS only), with a
  // throwaway self-signed certificate; it records the Authorization header of each call.
  const key = path.join(emu.dir, 'api-key.pem');
  const cert = path.join(emu.dir, 'api-cert.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  assert.equal(made.status, 0, `openssl: ${made.error ?? made.stderr}`);
  tls = { ca: fs.readFileSync(cert, 'utf8') };
  server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, (req, res) => {
    seen.push(req.headers.authorization);
    res.writeHead(req.headers.authorization ? 200 : 401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ ok: Boolean(req.headers.authorization) }));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `https://127.0.0.1:${server.address().port}`;
});
after(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  await emu?.stop();
});

test('bearerTokenAuthenticationPolicy sends our token to the API, and reuses it', async () => {
  const credential = new Credential(emu.options());
  const pipeline = createEmptyPipeline();
  pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: GRAPH }));
  const client = createDefaultHttpClient();
  await emu.resetCounters();

  for (let i = 0; i < 3; i++) {
    const request = createPipelineRequest({
      url: `${baseUrl}/v1.0/users`,
      method: 'GET',
      headers: createHttpHeaders({ accept: 'application/json' }),
    });
    request.tlsSettings = tls;
    const response = await pipeline.sendRequest(client, request);
    assert.equal(response.status, 200, response.bodyAsText);
  }
  assert.equal(seen.length, 3);
  const [header] = seen;
  assert.match(header, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
  assert.ok(seen.every((h) => h === header), 'the policy reuses the cached token');
  const checked = await emu.verify(header.slice('Bearer '.length));
  assert.equal(checked.valid, true);
  assert.equal(checked.claims.aud, 'https://graph.microsoft.com');
  const { imds, entra_token } = await emu.counters();
  assert.deepEqual({ imds, entra_token }, { imds: 1, entra_token: 1 });
});

test('a certless failure surfaces through the pipeline as the request error', async () => {
  // System-assigned identity: no federated credential on the app.
  const credential = new Credential({ tenantId: emu.tenantId, clientId: emu.clientId, authorityHost: emu.url });
  const pipeline = createEmptyPipeline();
  pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential, scopes: GRAPH }));
  const before = seen.length;
  const request = createPipelineRequest({ url: `${baseUrl}/x` });
  request.tlsSettings = tls;
  await assert.rejects(
    pipeline.sendRequest(createDefaultHttpClient(), request),
    (e) => e.name === 'TokenExchangeError' && e.code === 302 && e.aadstsCodes.includes(700213),
  );
  assert.equal(seen.length, before, 'no call reaches the API without a token');
});
