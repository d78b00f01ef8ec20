#!/usr/bin/env bash
# The real Terraform, set up with the README's recipe word for word, installs a module from
# a private registry on 127.0.0.1 that demands a valid Bearer token; a registry host no
# profile claims gets no token. A host block in ~/.terraformrc points the registry's
# service discovery at loopback, so Terraform never looks for it on the network.
if ! command -v terraform >/dev/null; then
	echo "skipped: terraform not installed"
	exit 99 # SKIP_RETURN_CODE: ctest says Skipped
fi
. "$(dirname "$0")/loopback-only.sh"
. "$(dirname "$0")/lib.sh"

# Nothing of the caller's Terraform setup: no token from the environment (TF_TOKEN_*), no
# other CLI config, plugin cache or arguments; the CA of the test servers for its TLS.
unset $(env | sed -n 's/^\(TF_[A-Za-z0-9_]*\)=.*/\1/p') TERRAFORM_CONFIG 2>/dev/null || true
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 SSL_CERT_FILE="$CA"

start_server
start_toolserver registry registry
REGISTRY_PORT=$TOOL_PORT
write_profile tf ok "urls = https://registry.test/"

echo "# the README's recipe, as written"
link_step=$(readme_block "**Terraform** (" 1)
config_block=$(readme_block "**Terraform** (" 2)
expect_match "$link_step" "terraform-credentials-keybearer" "the README's Terraform command"
expect_match "$config_block" "^credentials_helper " "the README's Terraform block"
(PATH="$KB_BIN:$PATH" && eval "$link_step") || fail "the README's Terraform command failed"
# What the README's ~/.terraformrc holds, after two host blocks that stand in for DNS and
# service discovery: unclaimed.test is the same registry, but no profile claims it.
{
	for host in registry.test unclaimed.test; do
		printf 'host "%s" {\n  services = {\n    "modules.v1" = "https://127.0.0.1:%s/v1/modules/"\n  }\n}\n' \
			"$host" "$REGISTRY_PORT"
	done
	printf '%s\n' "$config_block"
} >"$HOME/.terraformrc"
terraform version | sed 's/^/# /'

# terraform_case NAME BEFORE HOST RC NEW-TOKENS REGISTRY-SAW MESSAGE: after BEFORE (-,
# revoke: the registry stops taking the cached token, logout: terraform logout HOST),
# terraform init in a fresh root module that uses acme/greeting/null from HOST exits RC
# with MESSAGE in its output; the token endpoint got NEW-TOKENS requests, and the registry
# saw requests whose tokens were REGISTRY-SAW (space-separated, in order).
terraform_case() {
	local name=$1 before=$2 host=$3 rc=$4 new_tokens=$5 saw=$6 message=$7 dir tokens_before
	local seen_before token
	echo "# $name"
	case $before in
	-) ;;
	revoke)
		token=$("$KB" get --profile tf --format token)
		server POST /_revoke "$token"
		;;
	logout)
		terraform logout -no-color "$host" >"$WORK/logout" 2>&1 ||
			fail "$name: terraform logout $host failed: $(cat "$WORK/logout")"
		expect_match "$(tr -s ' \n' '  ' <"$WORK/logout")" \
			"from the configured \"keybearer\" credentials helper\. Success! Terraform has removed the stored API token for $host\." \
			"$name: terraform logout's output"
		;;
	*) fail "$name: unknown step $before" ;;
	esac
	dir="$WORK/root-$name"
	mkdir -p "$dir"
	printf 'module "greeting" {\n  source  = "%s/acme/greeting/null"\n  version = "~> 1.0"\n}\n' \
		"$host" >"$dir/main.tf"
	tokens_before=$(requests ok)
	seen_before=$(tool_requests registry | wc -l)
	set +e
	(cd "$dir" && terraform init -input=false -no-color) >"$WORK/init" 2>&1
	RC=$?
	set -e
	OUT=$(tr -s ' \n' '  ' <"$WORK/init")
	[ "$RC" = "$rc" ] || fail "$name: terraform init exited $RC, expected $rc: $OUT"
	expect_match "$OUT" "$message" "$name: terraform init's output"
	expect_no_secret "$OUT" "$name: terraform init's output"
	expect_eq "$(requests ok)" $((tokens_before + new_tokens)) "$name: token requests"
	expect_eq "$(tool_requests registry .auth | tail -n +$((seen_before + 1)) | tr -d '"' | xargs)" \
		"$saw" "$name: the tokens the registry saw"
	if [ "$rc" = 0 ]; then
		expect_eq "$(cat "$dir/.terraform/modules/greeting/main.tf")" \
			"$(printf 'output "greeting" {\n  value = "hello from acme/greeting/null 1.0.0"\n}')" \
			"$name: the installed module"
	fi
}

# name       before  host            rc new registry-saw               message
terraform_case cold      -      registry.test  0 1 "valid valid signed signed" \
	"Downloading registry.test/acme/greeting/null 1.0.0 for greeting\.\.\. .* Terraform has been successfully initialized!"
terraform_case cached    -      registry.test  0 0 "valid valid signed signed" \
	"Terraform has been successfully initialized!"
terraform_case unclaimed -      unclaimed.test 1 0 "none" \
	"Failed to retrieve available versions for module \"greeting\" \(main\.tf:1\) from unclaimed\.test: error looking up module versions: 401 Unauthorized\."
# Terraform never tells a helper that a token was refused: the cached one is refused
# until it is dropped, which terraform logout does (it runs the helper's forget).
terraform_case revoked   revoke registry.test  1 0 "refused" \
	"from registry\.test: error looking up module versions: 401 Unauthorized\."
terraform_case logout    logout registry.test  0 1 "valid valid signed signed" \
	"Terraform has been successfully initialized!"

echo "# the token went nowhere else: only the registry's API saw one, never the archive's URL"
expect_eq "$(tool_requests registry 'select(.path | startswith("/archive/")) | .auth' | sort -u | tr -d '"')" \
	"signed" "what the archive downloads carried"
echo "realtools-terraform: all passed"
