// An app using openid-client v6 the usual way, driven by node_test.go:
//   node rp.mjs <issuer> <client_id> <client_secret> <redirect_uri>
// 1. prints {"authorization_url": …} (discovery, PKCE S256, nonce, state);
// 2. reads the callback URL the browser reached from stdin;
// 3. prints {"claims", "userinfo", "refreshed_claims", …} after the code
//    grant (ID token validated), userinfo and a refresh.
// The issuer's certificate is trusted through NODE_EXTRA_CA_CERTS.
import * as client from 'openid-client';
import readline from 'node:readline';

const [issuer, clientId, clientSecret, redirectUri] = process.argv.slice(2);

const config = await client.discovery(new URL(issuer), clientId, clientSecret);
const verifier = client.randomPKCECodeVerifier();
const nonce = client.randomNonce();
const state = client.randomState();
const authorizationUrl = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid profile email groups offline_access',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  nonce,
  state,
});
console.log(JSON.stringify({ authorization_url: authorizationUrl.href }));

const rl = readline.createInterface({ input: process.stdin });
const callback = await new Promise((resolve) => rl.once('line', resolve));
rl.close();

const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
  pkceCodeVerifier: verifier,
  expectedNonce: nonce,
  expectedState: state,
  idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
console.log(JSON.stringify({
  claims,
  userinfo,
  token_type: tokens.token_type,
  refreshed_claims: refreshed.claims(),
  refreshed_new_access_token: refreshed.access_token !== tokens.access_token,
}));
