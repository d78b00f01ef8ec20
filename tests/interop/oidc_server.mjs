#!/usr/bin/env node
// A real OAuth 2.0 authorization server for keybearer's interoperability tests:
// panva's oidc-provider (OpenID Certified), pinned in package.json / package-lock.json.
//
// Usage (after `npm ci` in this directory):
//   node oidc_server.mjs --port-file PATH --cert server.pem --key server.key \
//                        --secret-file PATH [--client-jwks PATH] [--client-ca PATH]
//                        [--self-signed-cert PATH] [--log PATH]
//
// Listens on 127.0.0.1, on an ephemeral port that it writes to --port-file once it
// accepts connections; the issuer is https://127.0.0.1:PORT, so discovery is at
// /.well-known/openid-configuration and the token endpoint at /token.
//
// Clients (grant client_credentials only, scope "read write"); those with a secret read it
// raw from --secret-file:
//   kb-basic  token_endpoint_auth_method client_secret_basic
//   kb-post   token_endpoint_auth_method client_secret_post
//   kb-csjwt  token_endpoint_auth_method client_secret_jwt (HS256 with the secret)
//   kb-pkjwt  token_endpoint_auth_method private_key_jwt, its public keys in the client's
//             jwks: the JWKS of --client-jwks (present only when that is given)
//   kb-mtls   token_endpoint_auth_method tls_client_auth (RFC 8705 2.1), registered by
//             tls_client_auth_subject_dn CN=kb-test-client (make-ca.sh's client.pem); the
//             certificate must be issued by --client-ca (without it, by a CA of node's own
//             store, which no test certificate is)
//   kb-selfsigned  token_endpoint_auth_method self_signed_tls_client_auth (RFC 8705 2.2),
//             its jwks the public key and x5c of --self-signed-cert (present only when
//             that is given)
// Both mTLS clients have tls_client_certificate_bound_access_tokens: their tokens carry
// cnf.x5t#S256 of the certificate the connection presented (RFC 8705 3).
// The TLS server asks every connection for a client certificate and requires none, so the
// secret and assertion clients connect as before. oidc-provider 9 publishes no
// mtls_endpoint_aliases of its own; this server publishes one token_endpoint alias,
// https://127.0.0.1:PORT/mtls/token (the same provider, the same listener), so that a test
// can tell which of the two a client used.
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
//   {"client_id", "auth_method", "grant_type", "scope", "resource", "endpoint",
//    "certificate", "status", "error", "detail"}
// where endpoint is "token" or "mtls" (the path the request came to: /token or the alias
// /mtls/token), certificate the x5t#S256 of the client certificate the connection
// presented (null without one), detail the provider's reason for a refusal (its
// error_detail, which no response carries; null otherwise), and
// auth_method is what the request actually used (Authorization: Basic header ->
// client_secret_basic; client_secret in the form -> client_secret_post; both ->
// "client_secret_basic+client_secret_post"; a client_assertion -> "client_assertion";
// only a client certificate -> "client_certificate"; none of them -> "none"). With a
// client_assertion it also logs "assertion_type", and of
// the (unverified) assertion "alg", "kid", "iss", "sub", "aud", "jti", "lifetime"
// (exp - iat).
//
// SIGTERM or SIGINT: stops listening, closes connections and exits 0.

import { X509Certificate, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
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
    'client-ca': { type: 'string' },
    'self-signed-cert': { type: 'string' },
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
  } else if (peerCertificate(ctx.socket) !== undefined) {
    authMethod = 'client_certificate';
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

// The certificate the connection presented, or undefined: requestCert without
// rejectUnauthorized lets a connection without one (or with an untrusted one) through, and
// the provider decides (certificateAuthorized below).
function peerCertificate(socket) {
  const peer = socket.getPeerCertificate?.();
  if (!peer || !peer.raw) {
    return undefined;
  }
  return new X509Certificate(peer.raw);
}

function thumbprint(certificate) {
  return createHash('sha256').update(certificate.raw).digest('base64url');
}

// RFC 4514 order (the last RDN first), as tls_client_auth_subject_dn is written.
function subjectDn(certificate) {
  return certificate.subject.split('\n').reverse().join(',');
}

const server = https.createServer({
  cert: fs.readFileSync(args.cert),
  key: fs.readFileSync(args.key),
  ...(args['client-ca'] ? { ca: fs.readFileSync(args['client-ca']) } : {}),
  requestCert: true,
  rejectUnauthorized: false,
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
clients.push({
  ...clientMetadata('kb-mtls', 'tls_client_auth'),
  client_secret: undefined,
  tls_client_auth_subject_dn: 'CN=kb-test-client',
  tls_client_certificate_bound_access_tokens: true,
});
if (args['self-signed-cert']) {
  const certificate = new X509Certificate(fs.readFileSync(args['self-signed-cert']));
  clients.push({
    ...clientMetadata('kb-selfsigned', 'self_signed_tls_client_auth'),
    client_secret: undefined,
    tls_client_certificate_bound_access_tokens: true,
    jwks: {
      keys: [{
        ...certificate.publicKey.export({ format: 'jwk' }),
        x5c: [certificate.raw.toString('base64')],
      }],
    },
  });
}
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
    'tls_client_auth', 'self_signed_tls_client_auth',
  ],
  scopes: ['read', 'write'],
  jwks,
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  discovery: {
    mtls_endpoint_aliases: { token_endpoint: `${issuer}/mtls/token` },
  },
  features: {
    clientCredentials: { enabled: true },
    mTLS: {
      enabled: true,
      certificateBoundAccessTokens: true,
      tlsClientAuth: true,
      selfSignedTlsClientAuth: true,
      getCertificate: (ctx) => peerCertificate(ctx.socket),
      // verified against --client-ca by the TLS layer
      certificateAuthorized: (ctx) => ctx.socket.authorized === true,
      certificateSubjectMatches(ctx, property, expected) {
        const certificate = peerCertificate(ctx.socket);
        return property === 'tls_client_auth_subject_dn' && certificate !== undefined
          && subjectDn(certificate) === expected;
      },
    },
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
    entry.endpoint = ctx.req.keybearerEndpoint;
    const certificate = peerCertificate(ctx.socket);
    entry.certificate = certificate ? thumbprint(certificate) : null;
    entry.status = ctx.status;
    entry.error = ctx.status >= 400 ? (ctx.body?.error ?? null) : null;
    entry.detail = ctx.state.refusalDetail ?? null;
    log(entry);
  }
});

// Why the provider refused a token request: its error_detail is in no response.
provider.on('grant.error', (ctx, err) => {
  ctx.state.refusalDetail = err?.error_detail ?? null;
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
  // The mTLS alias is the token endpoint under another name.
  const [path, query] = req.url.split(/(?=\?)/);
  req.keybearerEndpoint = path === '/mtls/token' ? 'mtls' : 'token';
  if (path === '/mtls/token') {
    req.url = `/token${query ?? ''}`;
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
