// A resource server no one here wrote: the npm package oauth4webapi's
// validateJwtAccessToken (RFC 9068 access tokens, RFC 9449 DPoP) behind a
// small node:http server, with the RS-provided DPoP nonce (RFC 9449 §9) that
// oauth4webapi leaves to its caller, and jti replay detection. For the Go
// tests (internal/nodetest.StartScript).
//
// Environment:
//   RS_PORT      port on 127.0.0.1 (0 or unset: any free port)
//   RS_ISSUER    the authorization server; its metadata is discovered
//   RS_AUDIENCE  the aud the access tokens must carry
//   RS_NONCE     "1": every DPoP proof must carry this server's nonce
//
// Every request must be DPoP (requireDPoP). 200 answers JSON
// {"sub","client_id","scope","jkt"}; failures answer 401 with a DPoP
// challenge (error use_dpop_nonce plus DPoP-Nonce when the nonce is missing
// or wrong). When it listens it prints one line on stdout:
//   READY {"url":"http://127.0.0.1:PORT"}
import * as crypto from 'node:crypto';
import * as http from 'node:http';

import * as oauth from 'oauth4webapi';

const env = process.env;
const port = Number(env.RS_PORT ?? 0);
const issuer = new URL(env.RS_ISSUER);
const audience = env.RS_AUDIENCE ?? 'https://api.example.test';
const requireNonce = env.RS_NONCE === '1';
const algs = 'ES256 PS256 RS256 EdDSA';

const as = await oauth
  .discoveryRequest(issuer, { algorithm: 'oidc', [oauth.allowInsecureRequests]: true })
  .then((response) => oauth.processDiscoveryResponse(issuer, response));

const nonce = crypto.randomBytes(16).toString('base64url');
const seen = new Set();

function proofClaims(proof) {
  try {
    return JSON.parse(Buffer.from(proof.split('.')[1], 'base64url').toString('utf8'));
  } catch {
    return {};
  }
}

function reply(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

function challenge(res, error, description, extra = {}) {
  const quoted = description.replace(/["\\]/g, "'");
  reply(res, 401, { error, error_description: description }, {
    'www-authenticate': `DPoP error="${error}", error_description="${quoted}", algs="${algs}"`,
    ...extra,
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  const request = new Request(url, { method: req.method, headers: req.headers });
  let claims;
  try {
    claims = await oauth.validateJwtAccessToken(as, request, audience, {
      requireDPoP: true,
      [oauth.allowInsecureRequests]: true,
    });
  } catch (err) {
    const isProof = /DPoP/i.test(err.message) && !/Access Token/i.test(err.message);
    challenge(res, isProof ? 'invalid_dpop_proof' : 'invalid_token', err.message);
    return;
  }
  const proof = proofClaims(req.headers.dpop);
  if (requireNonce && proof.nonce !== nonce) {
    challenge(res, 'use_dpop_nonce', proof.nonce ? 'stale DPoP nonce' : 'a DPoP nonce is required', {
      'dpop-nonce': nonce,
    });
    return;
  }
  const replayKey = `${claims.cnf.jkt} ${proof.jti}`;
  if (seen.has(replayKey)) {
    challenge(res, 'invalid_dpop_proof', 'DPoP proof replayed');
    return;
  }
  seen.add(replayKey);
  reply(res, 200, {
    sub: claims.sub, client_id: claims.client_id, scope: claims.scope ?? '', jkt: claims.cnf.jkt,
  }, requireNonce ? { 'dpop-nonce': nonce } : {});
});

await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();

process.stdout.write(`READY ${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
