#!/usr/bin/env bash
# The real kubectl, with the README's exec blocks word for word, runs kubectl get namespaces
# against a small HTTPS Kubernetes API server on 127.0.0.1 that answers only a valid Bearer
# token: one token for several runs, none for a server the profile does not claim
# (provideClusterInfo), and what a token revoked early takes.
if ! command -v kubectl >/dev/null; then
	echo "skipped: kubectl not installed"
	exit 99 # SKIP_RETURN_CODE: ctest says Skipped
fi
. "$(dirname "$0")/loopback-only.sh"
. "$(dirname "$0")/lib.sh"

# Nothing of the caller's kubectl setup; its caches go to the private HOME (~/.kube/cache).
unset KUBECONFIG KUBECACHEDIR KUBERC
export PATH="$KB_BIN:$PATH" # the README's blocks say command: keybearer
kubectl version --client 2>&1 | sed 's/^/# /'
minor=$(kubectl version --client -o json | jq -r '.clientVersion.minor' | tr -dc 0-9)
[ -n "$minor" ] || fail "kubectl version --client -o json names no minor version"

start_server
start_toolserver kubernetes cluster
CLUSTER="https://127.0.0.1:$TOOL_PORT"
start_toolserver kubernetes stranger
STRANGER="https://127.0.0.1:$TOOL_PORT"
write_profile k8s ok "urls = $CLUSTER/"

echo "# the README's exec blocks, as written"
v1_block=$(readme_block "**kubectl** (kubeconfig" 1)
v1beta1_block=$(readme_block "**kubectl** (kubeconfig" 2)
expect_match "$v1_block" "apiVersion: client\.authentication\.k8s\.io/v1$" "the README's kubectl block"
expect_match "$v1_block" "provideClusterInfo: true" "the README's kubectl block"
expect_match "$v1beta1_block" "apiVersion: client\.authentication\.k8s\.io/v1beta1" "the README's v1beta1 block"
expect_match "$v1beta1_block" "provideClusterInfo: true" "the README's v1beta1 block"
# kubeconfig NAME USERS: a kubeconfig with both clusters, its users section USERS as given
kubeconfig() {
	cat >"$WORK/kubeconfig-$1" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: cluster
		  cluster: {server: "$CLUSTER", certificate-authority: "$CA"}
		- name: stranger
		  cluster: {server: "$STRANGER", certificate-authority: "$CA"}
		contexts:
		- name: cluster
		  context: {cluster: cluster, user: me}
		- name: stranger
		  context: {cluster: stranger, user: me}
		current-context: cluster
	EOF
	printf '%s\n' "$2" >>"$WORK/kubeconfig-$1"
}
kubeconfig v1 "$v1_block"
kubeconfig v1beta1 "$v1beta1_block"
# without provideClusterInfo keybearer cannot see the server the token is for
kubeconfig v1-blind "$(grep -v provideClusterInfo <<<"$v1_block")"

NAMESPACES=$(printf '%s\n' \
	"NAME             STATUS   AGE" \
	"default          Active   10d" \
	"kube-system      Active   10d" \
	"keybearer-test   Active   10d")
UNCLAIMED="keybearer: profile k8s does not claim $STRANGER: it claims $CLUSTER/ — add $STRANGER/ to the urls of profile k8s: urls = $CLUSTER/ $STRANGER/ in \[profile k8s\] of "
OLD_KUBECTL='exec plugin: invalid apiVersion "client.authentication.k8s.io/v1"'

# saw SERVER FROM: the tokens of the requests server SERVER has seen since its FROM-th one
saw() { tool_requests "$1" .auth | tail -n +$(($2 + 1)) | tr -d '"' | sort -u | xargs; }

# kubectl_case NAME KUBECONFIG CONTEXT BEFORE RC NEW-TOKENS CLUSTER-SAW STRANGER-SAW OUT:
# after BEFORE (-, revoke: the server stops taking the cached token, invalidate: keybearer
# invalidate), kubectl get namespaces in CONTEXT exits RC; the token endpoint got NEW-TOKENS
# requests, and each server saw requests with only these tokens (-: no request at all).
# OUT "namespaces": stdout is the namespace table and stderr is empty; else stdout is empty
# and OUT is a pattern of stderr. A kubectl older than 1.22 refuses the v1 blocks.
kubectl_case() {
	local name=$1 config=$2 context=$3 before=$4 rc=$5 new_tokens=$6 cluster_saw=$7
	local stranger_saw=$8 out=$9 tokens_before cluster_before stranger_before
	echo "# $name"
	if [ "$minor" -lt 22 ] && [ "${config#v1beta1}" = "$config" ]; then
		rc=1 new_tokens=0 cluster_saw=- stranger_saw=- out=$OLD_KUBECTL
	fi
	case $before in
	-) ;;
	revoke) server POST /_revoke "$("$KB" get --profile k8s --format token)" ;;
	invalidate) "$KB" invalidate --profile k8s ;;
	*) fail "$name: unknown step $before" ;;
	esac
	tokens_before=$(requests ok)
	cluster_before=$(tool_requests cluster | wc -l)
	stranger_before=$(tool_requests stranger | wc -l)
	set +e
	kubectl --kubeconfig "$WORK/kubeconfig-$config" --context "$context" get namespaces \
		>"$WORK/out" 2>"$WORK/err"
	RC=$?
	set -e
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
	[ "$RC" = "$rc" ] || fail "$name: kubectl exited $RC, expected $rc; stdout: $OUT; stderr: $ERR"
	if [ "$out" = namespaces ]; then
		expect_eq "$OUT" "$NAMESPACES" "$name: kubectl's output"
		expect_eq "$ERR" "" "$name: kubectl's stderr"
	else
		expect_eq "$OUT" "" "$name: kubectl's output"
		expect_match "$ERR" "$out" "$name: kubectl's stderr"
	fi
	expect_no_secret "$OUT$ERR" "$name: what kubectl printed"
	expect_eq "$(requests ok)" $((tokens_before + new_tokens)) "$name: token requests"
	expect_eq "$(saw cluster "$cluster_before")" "${cluster_saw/-/}" "$name: the tokens the cluster saw"
	expect_eq "$(saw stranger "$stranger_before")" "${stranger_saw/-/}" "$name: the tokens the stranger saw"
	if [ "$out" = namespaces ]; then
		local from=$cluster_before
		[ "$context" = cluster ] || from=$stranger_before
		tool_requests "$context" .path | tail -n +$((from + 1)) | grep -q '^"/api/v1/namespaces?' ||
			fail "$name: kubectl did not ask $context for its namespaces"
	fi
}

# name                   kubeconfig context  before     rc new cluster stranger out
kubectl_case v1              v1      cluster  -          0  1  valid   -       namespaces
kubectl_case v1-again        v1      cluster  -          0  0  valid   -       namespaces
kubectl_case v1-unclaimed    v1      stranger -          1  0  -       -       "$UNCLAIMED"
kubectl_case v1beta1         v1beta1 cluster  invalidate 0  1  valid   -       namespaces
kubectl_case v1beta1-again   v1beta1 cluster  -          0  0  valid   -       namespaces
kubectl_case v1beta1-unclaimed v1beta1 stranger -        1  0  -       -       "$UNCLAIMED"
# Without provideClusterInfo the token goes to whichever server the context names: why the
# README's blocks have it.
kubectl_case v1-blind        v1-blind stranger -         0  0  -       valid   namespaces
# kubectl never tells a helper that a token was refused: after a 401 it runs the plugin
# again, which hands out the same cached token, until keybearer invalidate drops it.
kubectl_case revoked         v1beta1 cluster  revoke     1  0  refused -       "error: You must be logged in to the server \(Unauthorized\)"
kubectl_case revoked-again   v1beta1 cluster  -          1  0  refused -       "error: You must be logged in to the server \(Unauthorized\)"
kubectl_case invalidated     v1beta1 cluster  invalidate 0  1  valid   -       namespaces
# which kubectl answered (the Google Cloud SDK's kubectl picks one by the server's version)
kubectl --kubeconfig "$WORK/kubeconfig-v1beta1" version 2>&1 | sed 's/^/# /'
echo "realtools-kubectl: all passed"
