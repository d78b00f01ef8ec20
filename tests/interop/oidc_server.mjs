#!/usr/bin/env node
// A real OAuth 2.0 authorization server for keybearer's interoperability tests:
// panva's oidc-provider (OpenID Certified), pinned in package.json / package-lock.json.
//
// Usage (after `npm ci` in this directory):
//   node oidc_server.mjs --port-file PATH --cert server.pem --key server.key \
//                        --secret-file PATH [--client-jwks PATH] [--log PATH]
//
// Listens on 127.0.0.1, on an ephemeral port that it writes to --port-file once it
// accepts connections; the issuer is https://127.0.0.1:PORT, so discovery is at
// /.well-known/openid-configuration and the token endpoint at /token.
//
// Clients (grant client_credentials only, scope "read write"), both with the secret read
// raw from --secret-file:
//   kb-basic  token_endpoint_auth_method client_secret_basic
//   kb-post   token_endpoint_auth_method client_secret_post
//   kb-csjwt  token_endpoint_auth_method client_secret_jwt (HS256 with the secret)
//   kb-pkjwt  token_endpoint_auth_method private_key_jwt, its public keys in the client's
//             jwks: the JWKS of --client-jwks (present only when that is given)
// The JWT methods are oidc-provider's own: aud the token endpoint (or the issuer), iss the
// client, exp and jti required, a replayed jti refused.
// oidc-provider itself accepts either secret method for either client (see client_auth.js:
// both count as matching a client registered with one of them).
//
// Resource indicators (RFC 8707) select a JWT access token:
//   resource=https://api.keybearer.test/  -> RS256 JWT, aud https://api.keybearer.test/
//   resource=https://es.keybearer.test/   -> ES256 JWT, aud https://es.keybearer.test/
// both with scopes "read write" and a 300 s lifetime; without a resource the token is
// opaque (600 s). Any other resource is refused with invalid_target.
//
// Test hooks: GET /_count answers with the number of token-endpoint requests so far;
// --log gets one JSON line per token-endpoint request:
//   {"client_id", "auth_method", "grant_type", "scope", "resource", "status", "error"}
// where auth_method is what the request actually used (Authorization: Basic header ->
// client_secret_basic; client_secret in the form -> client_secret_post; both ->
// "client_secret_basic+client_secret_post"; a client_assertion -> "client_assertion";
// none of them -> "none"). With a client_assertion it also logs "assertion_type", and of
// the (unverified) assertion "alg", "kid", "iss", "sub", "aud", "jti", "lifetime"
// (exp - iat).
//
// SIGTERM or SIGINT: stops listening, closes connections and exits 0.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as https from 'node:https';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    'port-file': { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    'secret-file': { type: 'string' },
    'client-jwks': { type: 'string' },
    log: { type: 'string' },
  },
  strict: true,
});
for (const required of ['port-file', 'cert', 'key', 'secret-file']) {
  if (!args[required]) {
    process.stderr.write(`oidc_server.mjs: --${required} is required\n`);
    process.exit(2);
  }
}

// Raw: every byte of the file is the secret, nothing stripped.
const secret = fs.readFileSync(args['secret-file']).toString('utf8');

const RESOURCES = {
  'https://api.keybearer.test/': 'RS256',
  'https://es.keybearer.test/': 'ES256',
};

function signingKey(type, options, kid, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

const jwks = {
  keys: [
    signingKey('rsa', { modulusLength: 2048 }, 'kb-rs256', 'RS256'),
    signingKey('ec', { namedCurve: 'P-256' }, 'kb-es256', 'ES256'),
  ],
};

let tokenRequests = 0;
const logFd = args.log ? fs.openSync(args.log, 'a') : null;

function log(entry) {
  if (logFd !== null) {
    fs.writeSync(logFd, `${JSON.stringify(entry)}\n`);
  }
}

function formDecode(value) {
  try {
    return decodeURIComponent(value.replace(/\+/g, '%20'));
  } catch {
    return value;
  }
}

// What the request presented, independent of whether the provider accepted it.
function describeTokenRequest(ctx) {
  const body = ctx.oidc?.body ?? {};
  const authorization = ctx.headers.authorization;
  const basic = authorization !== undefined && /^basic /i.test(authorization);
  const post = body.client_secret !== undefined;
  let clientId = body.client_id;
  if (basic) {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon !== -1) {
      clientId = formDecode(decoded.slice(0, colon));
    }
  }
  const assertion = body.client_assertion;
  let authMethod = 'none';
  if (basic && post) {
    authMethod = 'client_secret_basic+client_secret_post';
  } else if (basic) {
    authMethod = 'client_secret_basic';
  } else if (post) {
    authMethod = 'client_secret_post';
  } else if (assertion !== undefined) {
    authMethod = 'client_assertion';
  } else if (authorization !== undefined) {
    authMethod = 'other';
  }
  const entry = {
    client_id: clientId ?? null,
    auth_method: authMethod,
    grant_type: body.grant_type ?? null,
    scope: body.scope ?? null,
    resource: body.resource ?? null,
  };
  if (typeof assertion === 'string') {
    Object.assign(entry, describeAssertion(assertion));
    entry.assertion_type = body.client_assertion_type ?? null;
  }
  return entry;
}

// The header and claims of a client assertion as sent, not verified.
function describeAssertion(assertion) {
  try {
    const [head, claims] = assertion.split('.').slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
    return {
      alg: head.alg ?? null,
      kid: head.kid ?? null,
      iss: claims.iss ?? null,
      sub: claims.sub ?? null,
      aud: claims.aud ?? null,
      jti: claims.jti ?? null,
      lifetime: Number.isInteger(claims.exp) && Number.isInteger(claims.iat)
        ? claims.exp - claims.iat : null,
    };
  } catch {
    return { alg: null };
  }
}

const server = https.createServer({
  cert: fs.readFileSync(args.cert),
  key: fs.readFileSync(args.key),
});

// Listen first: the issuer must name the port, and the provider needs the issuer.
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `https://127.0.0.1:${port}`;

const clientMetadata = (clientId, method) => ({
  client_id: clientId,
  client_secret: secret,
  token_endpoint_auth_method: method,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  scope: 'read write',
});

const clients = [
  clientMetadata('kb-basic', 'client_secret_basic'),
  clientMetadata('kb-post', 'client_secret_post'),
  clientMetadata('kb-csjwt', 'client_secret_jwt'),
];
if (args['client-jwks']) {
  const { client_secret: unused, ...metadata } = clientMetadata('kb-pkjwt', 'private_key_jwt');
  clients.push({
    ...metadata,
    jwks: JSON.parse(fs.readFileSync(args['client-jwks'], 'utf8')),
  });
}

const provider = new Provider(issuer, {
  clients,
  clientAuthMethods: [
    'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt',
  ],
  scopes: ['read', 'write'],
  jwks,
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    clientCredentials: { enabled: true },
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => false,
      getResourceServerInfo(ctx, resourceIndicator) {
        const alg = RESOURCES[resourceIndicator];
        if (!alg) {
          throw new errors.InvalidTarget();
        }
        return {
          scope: 'read write',
          audience: resourceIndicator,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg } },
        };
      },
    },
  },
  ttl: {
    ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
  },
});

// Count and log every token-endpoint request, whatever its outcome. Middleware added with
// provider.use() runs before the provider's own routes, and the response is only written
// after it returns, so /_count already includes a request when its reply arrives.
provider.use(async (ctx, next) => {
  if (ctx.path !== '/token') {
    await next();
    return;
  }
  try {
    await next();
  } finally {
    tokenRequests += 1;
    const entry = describeTokenRequest(ctx);
    entry.status = ctx.status;
    entry.error = ctx.status >= 400 ? (ctx.body?.error ?? null) : null;
    log(entry);
  }
});

// Internal errors would otherwise go unnoticed: the client only sees server_error.
provider.on('server_error', (ctx, err) => {
  process.stderr.write(`oidc_server.mjs: server_error: ${err?.stack ?? err}\n`);
});

const providerCallback = provider.callback();
server.on('request', (req, res) => {
  if (req.method === 'GET' && req.url === '/_count') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`${tokenRequests}\n`);
    return;
  }
  providerCallback(req, res);
});

// Write then rename, so a polling test never reads a partial number.
fs.writeFileSync(`${args['port-file']}.tmp`, `${port}\n`);
fs.renameSync(`${args['port-file']}.tmp`, args['port-file']);

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  // Never hang a test's teardown.
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
