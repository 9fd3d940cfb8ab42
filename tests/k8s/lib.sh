# Shared by the Kubernetes test cases: a throw-away CA, and the fake API
# server (fake_apiserver.py) serving tests/k8s/recorded/ over HTTPS.
# Source after tests/lib.sh; needs WORK (a temporary directory) and PIDS (an
# array the case's EXIT trap kills). Sets K8S, REC, API, TOKEN.

K8S=$KVLB_TOP/tests/k8s
REC=$K8S/recorded

# k8s_fake_api_start: certificates, token files, server on 127.0.0.1; 0 when up.
k8s_fake_api_start() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=kvlb-test-ca \
		-keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null &&
		openssl req -newkey rsa:2048 -nodes -subj /CN=kvlb-test-apiserver \
			-keyout "$WORK/srv.key" -out "$WORK/srv.csr" 2>/dev/null &&
		printf 'subjectAltName=IP:127.0.0.1\n' >"$WORK/ext" &&
		openssl x509 -req -in "$WORK/srv.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" \
			-CAcreateserial -days 1 -extfile "$WORK/ext" -out "$WORK/srv.crt" 2>/dev/null ||
		{ echo "openssl could not make test certificates" >"$WORK/api.err"; return 1; }
	TOKEN=kvlb-test-token-$$
	printf '%s\n' "$TOKEN" >"$WORK/token"
	printf 'not-the-token\n' >"$WORK/badtoken"
	mkdir -p "$WORK/root/llm"
	k8s_serve vllm-v1.json
	: >"$WORK/api.log"
	python3 "$K8S/fake_apiserver.py" --root "$WORK/root" --recorded "$REC" --token "$TOKEN" \
		--cert "$WORK/srv.crt" --key "$WORK/srv.key" --port-file "$WORK/port" \
		--log "$WORK/api.log" 2>"$WORK/api.err" &
	PIDS+=($!)
	wait_for 10 test -s "$WORK/port" || return 1
	API=https://127.0.0.1:$(cat "$WORK/port")
}

# k8s_serve FILE: make the recording FILE the answer for service llm/vllm.
k8s_serve() {
	cp "$REC/$1" "$WORK/root/llm/vllm.json.new" &&
		mv "$WORK/root/llm/vllm.json.new" "$WORK/root/llm/vllm.json"
}
