#!/usr/bin/python3
"""sign-jwt.py KEYDIR CLAIMS-JSON: prints an RS256 JWT of the claims ("exp", "nbf" and "iat"
are seconds from now), signed with KEYDIR/key.pem, made on first use along with
KEYDIR/jwks.json (kid "local") for a web server to publish. For inspect --verify tests."""
import base64, json, sys, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
keydir, claims = sys.argv[1], json.loads(sys.argv[2])
try:
    with open(keydir + "/key.pem", "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
except FileNotFoundError:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(keydir + "/key.pem", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    n = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "kid": "local", "use": "sig", "alg": "RS256",
           "n": b64(n.n.to_bytes(256, "big")), "e": b64(n.e.to_bytes(3, "big"))}
    with open(keydir + "/jwks.json", "w") as f:
        json.dump({"keys": [jwk]}, f)
now = int(time.time())
claims = {k: (now + v if k in ("exp", "nbf", "iat") else v) for k, v in claims.items()}
signing_input = b64(json.dumps({"alg": "RS256", "kid": "local"}).encode()) + "." + \
    b64(json.dumps(claims).encode())
signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
print(signing_input + "." + b64(signature))
