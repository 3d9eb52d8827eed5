// An MCP client no one here wrote: the TypeScript SDK
// (@modelcontextprotocol/sdk) connects to an MCP server protected by
// popguard, knowing only the server's URL and its client credentials. On
// the first 401 it reads resource_metadata (and scope) from the challenge,
// fetches the RFC 9728 document, finds the authorization server in it, gets
// a token for the resource (client credentials, RFC 8707 resource), then
// lists the tools and calls one. Driven by adapters/mcpgosdk's tests.
//
// Environment:
//   MCP_URL        the MCP endpoint
//   MCP_ISSUER     the authorization server the client expects to be sent to
//   MCP_CLIENT_ID, MCP_CLIENT_SECRET   its client credentials
//   MCP_SCOPE      the scope it asks for (the SDK's client-credentials
//                  provider sends its configured scope, not the challenge's)
//   MCP_TOOL, MCP_ARGS (JSON)          the tool to call
//
// Prints one line, then exits:
//   READY {"tools":[...],"result":{...},"requests":[{"method","url","status","authorization"}...]}
// or READY {"error":"...","requests":[...]}.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';

const env = process.env;
const requests = [];

// Every HTTP request the SDK makes, discovery included, with the scheme of
// its Authorization header (never the token).
async function loggingFetch(input, init) {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
  const res = await fetch(input, init);
  requests.push({
    method,
    url,
    status: res.status,
    authorization: (headers.get('authorization') ?? '').split(' ')[0],
    dpop: headers.has('dpop'),
  });
  return res;
}

async function main() {
  const provider = new ClientCredentialsProvider({
    clientId: env.MCP_CLIENT_ID,
    clientSecret: env.MCP_CLIENT_SECRET,
    expectedIssuer: env.MCP_ISSUER,
    scope: env.MCP_SCOPE || undefined,
  });
  const transport = new StreamableHTTPClientTransport(new URL(env.MCP_URL), {
    authProvider: provider,
    fetch: loggingFetch,
  });
  const client = new Client({ name: 'popguard-test-client', version: '1.0.0' });
  await client.connect(transport);
  const { tools } = await client.listTools();
  const result = await client.callTool({ name: env.MCP_TOOL, arguments: JSON.parse(env.MCP_ARGS ?? '{}') });
  await client.close();
  return { tools: tools.map((t) => t.name), result };
}

let out;
try {
  out = await main();
} catch (err) {
  out = { error: `${err.name}: ${err.message}` };
}
out.requests = requests;
process.stdout.write(`READY ${JSON.stringify(out)}\n`);
process.exit(0);
