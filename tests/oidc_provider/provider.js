// A real OpenID Connect provider (panva's oidc-provider) for the gateway's login tests.
//
// Environment: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI. It listens on 127.0.0.1,
// prints "listening <issuer>" once ready, and keeps its state in memory.
//
// devInteractions supply the login and consent forms: any login name and any password
// sign in, and the login name becomes both `sub` and `preferred_username`.
//
// One addition for tests: POST /__test/tamper?mode=<mode> makes the NEXT token response
// carry a falsified ID token, to prove the gateway rejects it. Modes:
//   foreign-key  the real claims, signed by a key the provider never published
//   payload      the real signature over a changed payload (another `sub`)
//   issuer       correctly signed, but `iss` is another issuer
//   audience     correctly signed, but `aud` is another client
//   expired      correctly signed, but `exp` is an hour ago
//   alg-none     unsigned (`alg: none`)

import { createServer } from 'node:http';
import process from 'node:process';

import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const { CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env;
if (!port || !CLIENT_ID || !CLIENT_SECRET || !REDIRECT_URI) {
  console.error('PORT, CLIENT_ID, CLIENT_SECRET and REDIRECT_URI are required');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

async function signingKey(kid) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' } };
}

const real = await signingKey('test-key-1');
const foreign = await signingKey('test-key-1'); // same kid: only the signature can tell

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [real.jwk] },
  cookies: { keys: ['test-cookie-key-not-a-secret'] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  pkce: { methods: ['S256'], required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, accountId) {
    return {
      accountId,
      async claims() {
        return {
          sub: accountId,
          preferred_username: accountId,
          name: `Test ${accountId}`,
          email: `${accountId.replace(/[^A-Za-z0-9.-]/g, '_')}@example.org`,
          email_verified: true,
        };
      },
    };
  },
});
provider.proxy = false;

let tamperMode = null;

async function falsify(idToken, mode) {
  const claims = decodeJwt(idToken);
  const header = decodeProtectedHeader(idToken);
  const now = Math.floor(Date.now() / 1000);
  const sign = (payload, key) => new SignJWT(payload).setProtectedHeader(header).sign(key);
  switch (mode) {
    case 'foreign-key':
      return sign(claims, foreign.privateKey);
    case 'payload': {
      const [head, , signature] = idToken.split('.');
      const body = Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url');
      return `${head}.${body}.${signature}`;
    }
    case 'issuer':
      return sign({ ...claims, iss: 'http://127.0.0.1:1/not-the-issuer' }, real.privateKey);
    case 'audience':
      return sign({ ...claims, aud: 'another-client' }, real.privateKey);
    case 'expired':
      return sign({ ...claims, iat: now - 7200, exp: now - 3600 }, real.privateKey);
    case 'alg-none': {
      const part = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
      return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
    }
    default:
      throw new Error(`unknown tamper mode ${mode}`);
  }
}

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/tamper' && ctx.method === 'POST') {
    tamperMode = ctx.query.mode || null;
    ctx.status = 204;
    return;
  }
  await next();
  if (tamperMode && ctx.path === '/token' && ctx.status === 200 && ctx.body?.id_token) {
    const mode = tamperMode;
    tamperMode = null;
    ctx.body = { ...ctx.body, id_token: await falsify(ctx.body.id_token, mode) };
  }
});

const server = createServer(provider.callback());
server.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
