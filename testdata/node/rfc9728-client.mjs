// A client no one here wrote reading a popguard resource server: the npm
// package oauth4webapi parses the challenges of a protected URL called
// without a valid token, then discovers the resource's RFC 9728 metadata
// from its identifier (resourceDiscoveryRequest) and validates it
// (processResourceDiscoveryResponse: the document's resource must be the
// identifier). Driven by examples/server's tests.
//
// Environment:
//   RS_RESOURCE   the resource identifier the client expects
//   RS_PROTECTED  a protected URL of that resource
//
// Prints one line, then exits:
//   READY {"challenges":[...],"metadata_url":"...","metadata":{...}}
// or READY {"error":"..."} when a step fails.
import * as oauth from 'oauth4webapi';

const env = process.env;
const insecure = { [oauth.allowInsecureRequests]: true };

async function main() {
  const resource = new URL(env.RS_RESOURCE);
  let challenges;
  try {
    await oauth.protectedResourceRequest('not-a-valid-token', 'GET', new URL(env.RS_PROTECTED), new Headers(), null, insecure);
    return { error: 'the protected URL answered without a challenge' };
  } catch (err) {
    if (!(err instanceof oauth.WWWAuthenticateChallengeError)) throw err;
    challenges = err.cause;
  }
  const response = await oauth.resourceDiscoveryRequest(resource, insecure);
  const metadataURL = response.url;
  const metadata = await oauth.processResourceDiscoveryResponse(resource, response);
  return { challenges, metadata_url: metadataURL, metadata };
}

let out;
try {
  out = await main();
} catch (err) {
  out = { error: `${err.name}: ${err.message}${err.cause ? ` (${JSON.stringify(err.cause)})` : ''}` };
}
process.stdout.write(`READY ${JSON.stringify(out)}\n`);
