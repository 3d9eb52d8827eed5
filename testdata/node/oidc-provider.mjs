// An authorization server no one here wrote: the npm package oidc-provider on
// a loopback port, for the Go tests (internal/nodetest.StartOIDCProvider).
//
// Configuration, all through the environment:
//   OP_PORT           port on 127.0.0.1 (0 or unset: any free port)
//   OP_CLIENTS        JSON array of oidc-provider client metadata, e.g.
//                     [{"client_id":"svc","client_secret":"s","grant_types":["client_credentials"],
//                       "token_endpoint_auth_method":"client_secret_basic"}]
//   OP_RESOURCE       the resource (audience) client-credentials tokens are for;
//                     its tokens are RFC 9068 JWTs (typ at+jwt)
//   OP_SCOPES         space-separated scopes that resource accepts (default "read write")
//   OP_DPOP_NONCE     "1": DPoP proofs at the token endpoint must carry a server nonce
//   OP_REQUIRE_DPOP   "1": every client must use DPoP (dpop_bound_access_tokens)
//   OP_TOKEN_TTL      access token lifetime in seconds (default 300)
//   OP_TEST_ROUTES    "1": POST /test/refresh-token?client_id=ID&scope=S mints a refresh
//                     token for that client (the authorization code flow needs a browser)
//
// When it listens it prints one line on stdout:
//   READY {"issuer":"http://127.0.0.1:PORT","jwks_uri":"...","token_endpoint":"..."}
// and logs nothing else on stdout. It stops on SIGTERM, SIGINT or when stdin closes.
import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const env = process.env;
const port = Number(process.argv[2] ?? env.OP_PORT ?? 0);
const clients = JSON.parse(env.OP_CLIENTS ?? '[]');
const resource = env.OP_RESOURCE ?? 'https://api.example.test';
const scopes = (env.OP_SCOPES ?? 'read write').split(' ').filter(Boolean);
const requireNonce = env.OP_DPOP_NONCE === '1';
const requireDPoP = env.OP_REQUIRE_DPOP === '1';
const ttl = Number(env.OP_TOKEN_TTL ?? 300);
const testRoutes = env.OP_TEST_ROUTES === '1';

if (requireDPoP) {
  for (const c of clients) c.dpop_bound_access_tokens = true;
}

const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'op-es256', alg: 'ES256', use: 'sig' };

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients,
  clientDefaults: {
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    id_token_signed_response_alg: 'ES256',
  },
  jwks: { keys: [signingKey] },
  scopes: ['openid', 'offline_access', ...scopes],
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    dPoP: {
      enabled: true,
      nonceSecret: crypto.randomBytes(32),
      requireNonce: () => requireNonce,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) throw new errors.InvalidTarget();
        return {
          scope: scopes.join(' '),
          audience: resource,
          accessTokenTTL: ttl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        };
      },
    },
  },
  ttl: {
    ClientCredentials: ttl,
    AccessToken: ttl,
    RefreshToken: 3600,
    Grant: 3600,
  },
});

if (testRoutes) {
  provider.use(async (ctx, next) => {
    if (ctx.path !== '/test/refresh-token' || ctx.method !== 'POST') return next();
    const client = await provider.Client.find(String(ctx.query.client_id ?? ''));
    if (!client) {
      ctx.status = 400;
      ctx.body = { error: 'unknown client' };
      return undefined;
    }
    const scope = String(ctx.query.scope ?? scopes.join(' '));
    const accountId = 'user-1';
    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    grant.addOIDCScope('offline_access');
    grant.addResourceScope(resource, scope);
    const grantId = await grant.save();
    const rt = new provider.RefreshToken({
      accountId, client, grantId, scope, resource, gty: 'authorization_code',
    });
    ctx.body = { refresh_token: await rt.save() };
    return undefined;
  });
}

server.on('request', provider.callback());

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();

process.stdout.write(`READY ${JSON.stringify({
  issuer,
  jwks_uri: `${issuer}/jwks`,
  token_endpoint: `${issuer}/token`,
})}\n`);
