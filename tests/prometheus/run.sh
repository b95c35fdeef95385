#!/usr/bin/env bash
# What nix/prometheus.nix generates, fed to the real Prometheus tools (Debian
# packages prometheus, prometheus-node-exporter, prometheus-blackbox-exporter):
#
#  a. `promtool check config` accepts a prometheus.yml made of the generated
#     scrapeConfigs and rules (and refuses a broken copy, so the check checks);
#     prometheus-blackbox-exporter --config.check accepts the generated modules;
#  b. `promtool test rules` (rules-test.yml): the stale alert fires after the
#     timeout and not before, also for a target that never reported; CRITICAL,
#     WARNING, a failed probe and certificate expiry fire as they should; a
#     state alert waits for failureThreshold results in a row, a probe alert
#     for failureThreshold failed probes in a row;
#  c. the blackbox exporter with the generated modules probes a local
#     python3 http.server for the two check_http targets: probe_success 1 where
#     the text is on the page, 0 where it is not; then a real Prometheus with
#     the generated scrape configs (interval shortened) scrapes them through
#     the blackbox exporter and has both results with the target's labels;
#  d. prometheus-node-exporter with only the textfile collector serves a .prom
#     file in the agent's format (promtool check metrics lints it), ignores the
#     agent's half-written temporary file, and, as root, reads it from a
#     directory made as the module's tmpfiles line says (2750, agent:exporter
#     group) in which the exporter can create nothing.
#
# The values come from tests/prometheus/fixture.nix (nix-instantiate, no
# nixpkgs). Every process listens on 127.0.0.1 and is killed on exit. Prints
# ok/FAIL per check, exits non-zero on any failure. A missing tool fails under
# CI (CI set) and is reported as SKIPPED otherwise (also into
# $NIXCLOUD_SKIP_LOG, which tests/all.sh lists).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

# shellcheck source=nix/tests/nix-env.sh
. nix/tests/nix-env.sh
work=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work" "$nix_scratch"
}
trap cleanup EXIT

passed=0
failed=0
ok() {
	echo "ok   $*"
	passed=$((passed + 1))
}
fail() {
	echo "FAIL $*"
	failed=$((failed + 1))
}
# check NAME COMMAND...: ok when the command succeeds; its output shown on failure.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$name"
	else
		fail "$name"
		printf '%s\n' "$out" | sed 's/^/  /'
	fi
}

missing=()
for tool in nix-instantiate promtool prometheus prometheus-node-exporter prometheus-blackbox-exporter curl python3; do
	command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
	msg="tests/prometheus/run.sh: missing ${missing[*]} (apt-get install prometheus prometheus-node-exporter prometheus-blackbox-exporter curl python3 nix-bin)"
	if [ -n "${CI:-}" ]; then
		echo "FAIL $msg"
		exit 1
	fi
	echo "SKIPPED $msg"
	[ -z "${NIXCLOUD_SKIP_LOG:-}" ] || echo "$msg" >>"$NIXCLOUD_SKIP_LOG"
	exit 0
fi

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_http URL: up to 10 s for the URL to answer.
wait_http() {
	local i
	for i in $(seq 100); do
		curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
# start NAME COMMAND...: runs it in the background, output in $work/NAME.log.
start() {
	local name=$1
	shift
	"$@" >"$work/$name.log" 2>&1 &
	pids+=($!)
}

http_port=$(free_port)
blackbox_port=$(free_port)
node_port=$(free_port)
prom_port=$(free_port)

# --- the generated values ------------------------------------------------------
nix-instantiate "${nix_args[@]}" --eval --strict --json tests/prometheus/fixture.nix \
	--argstr httpPort "$http_port" --argstr blackboxAddress "127.0.0.1:$blackbox_port" >"$work/fixture.json"
# JSON is YAML: every file below is written as JSON.
python3 - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
f = json.load(open(f"{work}/fixture.json"))
def write(name, value):
    with open(f"{work}/{name}", "w") as out:
        json.dump(value, out, indent=1)
write("rules.yml", f["rules"])
write("blackbox.yml", {"modules": f["blackboxModules"]})
write("prometheus.yml", {
    "global": {"scrape_interval": "1m", "evaluation_interval": "1m"},
    "rule_files": ["rules.yml"],
    "scrape_configs": f["scrapeConfigs"],
})
# The same with a broken relabeling (an unknown action): must be refused.
broken = json.loads(json.dumps(f["scrapeConfigs"]))
broken[0]["relabel_configs"][0]["action"] = "no-such-action"
write("broken.yml", {"rule_files": ["rules.yml"], "scrape_configs": broken})
# For the real server: scrape every second (the generated 1m would make the
# test wait a minute); nothing else changed.
fast = json.loads(json.dumps(f["scrapeConfigs"]))
for job in fast:
    job["scrape_interval"] = "1s"
    job["scrape_timeout"] = "1s"
write("prometheus-fast.yml", {"rule_files": ["rules.yml"], "scrape_configs": [j for j in fast if j["job_name"].endswith("check_http")]})
for name in ("tmpfilesRules", "textfileName"):
    write(name + ".json", f[name])
http = [j for j in f["scrapeConfigs"] if j["job_name"] == "nixcloud-monitoring-test-check_http"][0]
with open(f"{work}/http-probes", "w") as out:
    for s in http["static_configs"]:
        out.write("%s %s %s\n" % (s["labels"]["target"], s["labels"]["__param_module"], s["targets"][0]))
EOF
cp tests/prometheus/rules-test.yml "$work/"

# --- a. the configs ------------------------------------------------------------
check "a. promtool check config accepts the generated scrape configs and rules" \
	promtool check config "$work/prometheus.yml"
check "a. promtool check rules accepts the generated rules" promtool check rules "$work/rules.yml"
if promtool check config "$work/broken.yml" >"$work/broken.out" 2>&1; then
	fail "a. promtool check config refuses a broken copy (it accepted it)"
else
	ok "a. promtool check config refuses a broken copy"
fi
check "a. blackbox exporter --config.check accepts the generated modules" \
	prometheus-blackbox-exporter --config.file="$work/blackbox.yml" --config.check

# --- b. the rules -----------------------------------------------------------------
check "b. promtool test rules: stale after the timeout (also never reported), not before; CRITICAL, WARNING, probe failed (at the failureThreshold-th in a row), certificate expiry" \
	promtool test rules "$work/rules-test.yml"

# --- c. blackbox probes of a local web server -------------------------------------
mkdir -p "$work/www"
echo "<html><body>This page is served by nixcloud-monitoring (test).</body></html>" >"$work/www/index.html"
start http python3 -m http.server --bind 127.0.0.1 --directory "$work/www" "$http_port"
start blackbox prometheus-blackbox-exporter --config.file="$work/blackbox.yml" \
	--web.listen-address="127.0.0.1:$blackbox_port"
if ! wait_http "http://127.0.0.1:$http_port/index.html" || ! wait_http "http://127.0.0.1:$blackbox_port/metrics"; then
	fail "c. web server and blackbox exporter start"
	sed 's/^/  /' "$work/http.log" "$work/blackbox.log"
else
	# target module url, from the generated scrape config
	declare -A expect=(["127.0.0.1-HTTP"]=1 ["127.0.0.1-HTTP-missing"]=0)
	while read -r target module url; do
		got=$(curl -fsS -G "http://127.0.0.1:$blackbox_port/probe" \
			--data-urlencode "module=$module" --data-urlencode "target=$url" | sed -n 's/^probe_success //p')
		want=${expect[$target]}
		if [ "$got" = "$want" ]; then
			ok "c. blackbox probe $target ($url, module $module): probe_success $got"
		else
			fail "c. blackbox probe $target ($url, module $module): probe_success '$got', expected $want"
		fi
	done <"$work/http-probes"
	[ "$(wc -l <"$work/http-probes")" = 2 ] || fail "c. expected 2 check_http probes, got $(wc -l <"$work/http-probes")"

	# The real server, scraping through the generated relabeling.
	start prometheus prometheus --config.file="$work/prometheus-fast.yml" \
		--web.listen-address="127.0.0.1:$prom_port" --storage.tsdb.path="$work/tsdb"
	result=""
	for i in $(seq 150); do
		result=$(curl -fsS "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query=probe_success' 2>/dev/null |
			python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(" ".join(sorted("%s/%s/%s/%s/%s=%s" % (m["metric"]["target"], m["metric"]["service"], m["metric"]["host"], m["metric"]["family"], m["metric"]["job"], m["value"][1]) for m in [{"metric": x["metric"], "value": x["value"]} for x in r])))' 2>/dev/null || true)
		case $result in *=*" "*=*) break ;; esac
		sleep 0.2
	done
	want="127.0.0.1-HTTP-missing/HTTP-missing/127.0.0.1/ip4/nixcloud-monitoring-test-check_http=0 127.0.0.1-HTTP/HTTP/127.0.0.1/ip4/nixcloud-monitoring-test-check_http=1"
	if [ "$result" = "$want" ]; then
		ok "c. prometheus scrapes both probes through the blackbox exporter: $result"
	else
		fail "c. prometheus probe_success: got '$result', expected '$want'"
		tail -5 "$work/prometheus.log" | sed 's/^/  /'
	fi
fi

# --- d. the node exporter's textfile collector --------------------------------------
textfile_name=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])))' "$work/textfileName.json")
# A textfile as the agent writes it: one passive target with a result and
# perfdata, one registered that has not reported yet.
sample() {
	cat <<'EOF'
# HELP nixcloud_monitoring_state State of the target's last result: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
# TYPE nixcloud_monitoring_state gauge
nixcloud_monitoring_state{target="db1-disk",host="db1",service="disk"} 1
# HELP nixcloud_monitoring_last_result_timestamp_seconds When the target's last result was measured.
# TYPE nixcloud_monitoring_last_result_timestamp_seconds gauge
nixcloud_monitoring_last_result_timestamp_seconds{target="db1-disk",host="db1",service="disk"} 1700000000
# HELP nixcloud_monitoring_check_interval_seconds Seconds between two results (timers.check).
# TYPE nixcloud_monitoring_check_interval_seconds gauge
nixcloud_monitoring_check_interval_seconds{target="db1-disk",host="db1",service="disk"} 300
nixcloud_monitoring_check_interval_seconds{target="web1-backup",host="web1",service="backup"} 3600
# HELP nixcloud_monitoring_timeout_seconds Seconds without a result before the target is stale (timers.timeout).
# TYPE nixcloud_monitoring_timeout_seconds gauge
nixcloud_monitoring_timeout_seconds{target="db1-disk",host="db1",service="disk"} 900
nixcloud_monitoring_timeout_seconds{target="web1-backup",host="web1",service="backup"} 10800
# HELP nixcloud_monitoring_registered_timestamp_seconds When the agent last registered the target.
# TYPE nixcloud_monitoring_registered_timestamp_seconds gauge
nixcloud_monitoring_registered_timestamp_seconds{target="db1-disk",host="db1",service="disk"} 1699990000
nixcloud_monitoring_registered_timestamp_seconds{target="web1-backup",host="web1",service="backup"} 1699990000
# HELP nixcloud_monitoring_run_duration_seconds How long the target's last script run took.
# TYPE nixcloud_monitoring_run_duration_seconds gauge
nixcloud_monitoring_run_duration_seconds{target="db1-disk",host="db1",service="disk"} 0.25
# HELP nixcloud_monitoring_perfdata Performance data of the target's last result.
# TYPE nixcloud_monitoring_perfdata gauge
nixcloud_monitoring_perfdata{target="db1-disk",host="db1",service="disk",label="root /",uom="%"} 81
nixcloud_monitoring_perfdata{target="db1-disk",host="db1",service="disk",label="inodes",uom=""} 12
EOF
}
# Lines the node exporter must serve (it sorts labels by name).
served=(
	'nixcloud_monitoring_state{host="db1",service="disk",target="db1-disk"} 1'
	'nixcloud_monitoring_last_result_timestamp_seconds{host="db1",service="disk",target="db1-disk"} 1.7e+09'
	'nixcloud_monitoring_check_interval_seconds{host="web1",service="backup",target="web1-backup"} 3600'
	'nixcloud_monitoring_timeout_seconds{host="db1",service="disk",target="db1-disk"} 900'
	'nixcloud_monitoring_registered_timestamp_seconds{host="web1",service="backup",target="web1-backup"} 1.69999e+09'
	'nixcloud_monitoring_run_duration_seconds{host="db1",service="disk",target="db1-disk"} 0.25'
	'nixcloud_monitoring_perfdata{host="db1",label="root /",service="disk",target="db1-disk",uom="%"} 81'
	'nixcloud_monitoring_perfdata{host="db1",label="inodes",service="disk",target="db1-disk",uom=""} 12'
	'node_textfile_scrape_error 0'
)

# node_exporter DIR PORT [setpriv args...]: serves DIR's *.prom on 127.0.0.1:PORT.
node_exporter() {
	local dir=$1 port=$2
	shift 2
	start "node-$port" "$@" prometheus-node-exporter --collector.disable-defaults --collector.textfile \
		--collector.textfile.directory="$dir" --web.listen-address="127.0.0.1:$port"
	wait_http "http://127.0.0.1:$port/metrics"
}
# serves PORT NAME: every line of $served is in the exporter's /metrics.
serves() {
	local port=$1 name=$2 metrics missing_lines=()
	metrics=$(curl -fsS "http://127.0.0.1:$port/metrics")
	for line in "${served[@]}"; do
		grep -qxF -- "$line" <<<"$metrics" || missing_lines+=("$line")
	done
	if [ ${#missing_lines[@]} -eq 0 ]; then
		ok "$name"
	else
		fail "$name; missing:"
		printf '  %s\n' "${missing_lines[@]}"
		grep -E '^(nixcloud|node_textfile)' <<<"$metrics" | sed 's/^/  got: /'
	fi
}

sample >"$work/sample.prom"
check "d. promtool check metrics accepts the agent's format" sh -c "promtool check metrics <'$work/sample.prom'"

mkdir -p "$work/textfile"
sample >"$work/textfile/$textfile_name"
# What the agent leaves while writing: a temporary file not ending in .prom.
echo 'half written {{{' >"$work/textfile/.$textfile_name.12345.tmp"
if node_exporter "$work/textfile" "$node_port"; then
	serves "$node_port" "d. node exporter (textfile collector only) serves the agent's metrics and ignores its temporary file"
else
	fail "d. node exporter starts"
	sed 's/^/  /' "$work/node-$node_port.log"
fi

# The directory as the module's tmpfiles line makes it, with numeric stand-ins
# for the agent's user and the exporter's group; the exporter runs as another
# user in that group.
if [ "$(id -u)" = 0 ]; then
	agent_uid=64101 exporter_uid=64102 exporter_gid=64103 agent_gid=64104
	read -r type path mode user group _ < <(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[0])' "$work/tmpfilesRules.json")
	if [ "$type $mode $user $group" != "d 2750 nixcloud-monitoring node-exporter" ]; then
		fail "d. tmpfiles line: got '$type $path $mode $user $group'"
	fi
	chmod 0755 "$work"
	dir="$work/textfile-perms"
	printf 'd %s %s %s %s - -\n' "$dir" "$mode" "$agent_uid" "$exporter_gid" >"$work/tmpfiles.conf"
	if command -v systemd-tmpfiles >/dev/null; then
		systemd-tmpfiles --create "$work/tmpfiles.conf"
	else
		install -d -m "$mode" -o "$agent_uid" -g "$exporter_gid" "$dir"
	fi
	as_agent=(setpriv --reuid="$agent_uid" --regid="$agent_gid" --clear-groups)
	as_exporter=(setpriv --reuid="$exporter_uid" --regid="$exporter_gid" --clear-groups)
	# The agent: write a temporary file with the units' umask, chmod 0644, rename.
	sample >"$work/sample-perms.prom"
	chmod 0644 "$work/sample-perms.prom"
	check "d. the agent's user writes the textfile into the directory (temporary file, rename)" \
		"${as_agent[@]}" sh -c "umask 0007 && cp '$work/sample-perms.prom' '$dir/.$textfile_name.1.tmp' && chmod 0644 '$dir/.$textfile_name.1.tmp' && mv '$dir/.$textfile_name.1.tmp' '$dir/$textfile_name'"
	check "d. the textfile belongs to the exporter's group (setgid directory)" \
		test "$(stat -c %g "$dir/$textfile_name")" = "$exporter_gid"
	if "${as_exporter[@]}" sh -c "touch '$dir/x.prom'" 2>/dev/null; then
		fail "d. the exporter's group cannot create files in the directory (it could)"
	else
		ok "d. the exporter's group cannot create files in the directory"
	fi
	if "${as_exporter[@]}" sh -c "rm -f '$dir/$textfile_name'" 2>/dev/null && [ ! -e "$dir/$textfile_name" ]; then
		fail "d. the exporter's group cannot remove the textfile (it could)"
	else
		ok "d. the exporter's group cannot remove the textfile"
	fi
	if setpriv --reuid=64105 --regid=64105 --clear-groups sh -c "ls '$dir'" >/dev/null 2>&1; then
		fail "d. other users cannot list the directory (they could)"
	else
		ok "d. other users cannot list the directory"
	fi
	perm_port=$(free_port)
	if node_exporter "$dir" "$perm_port" "${as_exporter[@]}"; then
		serves "$perm_port" "d. node exporter as a user of the exporter's group reads the textfile from the directory"
	else
		fail "d. node exporter as the exporter's user starts"
		sed 's/^/  /' "$work/node-$perm_port.log"
	fi
elif [ -n "${CI:-}" ]; then
	fail "d. directory permissions need root (CI must run this as root)"
else
	echo "SKIPPED d. directory permissions (needs root)"
	[ -z "${NIXCLOUD_SKIP_LOG:-}" ] || echo "tests/prometheus/run.sh: directory permissions (needs root)" >>"$NIXCLOUD_SKIP_LOG"
fi

echo "prometheus tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
