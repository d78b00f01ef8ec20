#!/usr/bin/env bash
# OIDC discovery: a profile that names its issuer, not its token endpoint. The document is
# read once and kept for a day; one that is not the issuer's own is refused before the
# secret goes anywhere.
. "$(dirname "$0")/lib.sh"

start_server
discovery_file() { ls "$CACHE_DIR"/oidc-*.json; }

echo "# the token endpoint from the issuer's discovery document"
write_profile disc ok "token_url = " "issuer = $BASE/issuer/ok"
run_kb status --profile disc
expect_match "$OUT" "^  token_url     \(from the issuer's discovery document\)$" "status token_url before discovery"
run_kb get --profile disc --format token
expect_rc 0 "get through discovery"
expect_eq "$ERR" "" "stderr of get through discovery"
expect_eq "$(requests discovery)" 1 "discovery requests"
expect_eq "$(requests ok)" 1 "token requests"
expect_eq "$(file_mode "$(discovery_file)")" 600 "discovery cache file mode"
expect_eq "$(jq -r .format "$(discovery_file)")" "keybearer-oidc/1" "discovery cache format"
token=$OUT
KEYBEARER_FETCH=/bin/false run_kb get --profile disc --format token
expect_eq "$OUT" "$token" "a cached get needs no discovery"
"$KB" invalidate --profile disc
run_kb get --profile disc --format token
expect_rc 0 "second cold get"
expect_eq "$(requests discovery)" 1 "the document is read once"
expect_eq "$(requests ok)" 2 "token requests after the second cold get"
run_kb status --profile disc
expect_match "$OUT" "issuer        $BASE/issuer/ok" "status shows the issuer"
expect_match "$OUT" "^  token_url     $BASE/ok/token \\(from the issuer's discovery document\\)$" "status shows the discovered token endpoint"
run_kb status --profile disc --json
expect_eq "$(jq -r '.profiles[0] | [.issuer, (.token_url | tostring), .discovered_token_url] | join(" ")' <<<"$OUT")" \
	"$BASE/issuer/ok null $BASE/ok/token" "status --json: issuer, token_url, discovered_token_url"

echo "# a day later the document is read again"
jq '.fetched_at -= 86400' "$(discovery_file)" >"$WORK/aged" && cat "$WORK/aged" >"$(discovery_file)"
"$KB" invalidate --profile disc
run_kb get --profile disc
expect_rc 0 "get with an aged discovery document"
expect_eq "$(requests discovery)" 2 "discovery requests after a day"

echo "# documents that are refused, before any token request"
before=$(server GET /_count | tr -d '\n')
for row in \
	"other-issuer|76|names issuer \"https://elsewhere.example\" — set issuer to exactly the issuer the server names" \
	"missing|76|OIDC discovery $BASE/issuer/missing/.well-known/openid-configuration answered HTTP 404 — check issuer" \
	"no-token-endpoint|76|the discovery document of $BASE/issuer/no-token-endpoint has no token_endpoint — check issuer"; do
	IFS='|' read -r variant code message <<<"$row"
	write_profile "bad-$variant" ok "token_url = " "issuer = $BASE/issuer/$variant"
	run_kb get --profile "bad-$variant"
	expect_rc "$code" "issuer $variant"
	expect_eq "$OUT" "" "stdout for issuer $variant"
	expect_match "$ERR" "^keybearer: .*$(sed 's/[][\.*^$()+?{}|]/\\&/g' <<<"$message")$" "message for issuer $variant"
	expect_no_secret "$ERR"
done
after=$(server GET /_count | tr -d '\n')
expect_eq "$((after - before))" 3 "only the three discovery requests were made"
echo "discovery: all passed"
