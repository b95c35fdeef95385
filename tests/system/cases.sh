# The system test's cases (sourced by run.sh after the container booted with config v1).

prefix=nixcloud.monitoring
agent_cmd=(nixcloud-monitoring)
agent_in_store=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent"])' "$work/v1.json")
agent_cmd=("$agent_in_store/bin/nixcloud-monitoring" --config /etc/nixcloud-monitoring/config.toml)
result_unit() { echo "$prefix-passive-result-sys-$1.service"; }
results_for() { api_count /api/services/results body.host=sys "body.name=$1" "${@:2}"; }

# ---- boot, registration ----------------------------------------------------------------------
expect_eq "the container booted with nothing failed" running "$(c systemctl is-system-running || true)"

if wait_for 40 'test "$(api_count /api/services body.payload.name=manual)" -ge 1' ; then
	ok "registration arrives by itself after boot (register-on-switch timer)"
else
	bad "registration arrives by itself after boot (register-on-switch timer)" \
		"$(c systemctl status $prefix-register.service $prefix-register-on-switch.timer 2>&1 | tail -20)"
fi
expect_eq "every registration used the key from LoadCredential=" 0 \
	"$(api_count /api/services 'auth!=ApiKey system-test-key')"
expect_eq "check_http registers once per address family" 2 \
	"$(api_count /api/services body.command.name=check_http)"
check "register.service run by hand succeeds" c systemctl start $prefix-register.service
expect_eq "the state directory belongs to the service user, mode 750" \
	"nixcloud-monitoring nixcloud-monitoring 750" "$(c stat -c '%U %G %a' /var/lib/nixcloud-monitoring)"
expect_match "the daily register timer has a next run" "$prefix-register.timer" \
	"$(c systemctl list-timers --no-pager "$prefix-register.timer")"

# ---- calendar targets (timers.calendar) -------------------------------------------------------
cal_timer=$prefix-passive-result-sys-cal.timer
expect_match "a calendar target's timer is in list-timers" "$cal_timer" \
	"$(c systemctl list-timers --no-pager "$cal_timer")"
expect_eq "its timer is Persistent=true" yes "$(c systemctl show -P Persistent "$cal_timer")"
# Its next elapse is systemd-analyze's for the expression (again when a minute turned between
# the two readings).
next_ok=""
for _ in 1 2 3; do
	timer_next=$(c systemctl show -P NextElapseUSecRealtime "$cal_timer")
	want_next=$(c systemd-analyze calendar minutely | sed -n 's/^ *Next elapse: //p')
	if [ "$timer_next" = "$want_next" ]; then next_ok=yes; break; fi
	sleep 1
done
expect_eq "its next elapse is the calendar's ($want_next)" yes "$next_ok" 
if wait_for 75 'test "$(results_for cal body.state=0)" -ge 1'; then
	ok "a calendar target's run is delivered when its calendar elapses"
else
	bad "a calendar target's run is delivered when its calendar elapses" \
		"$(c journalctl --no-pager -o cat -u "$(result_unit cal)" | tail -20)"
fi
# (A run missed while the machine was off: tests/system/catchup-cases.sh, at the very end, as
# it reboots the container.)

# ---- every script of README, docs/ and examples/, under NixOS's PATH ---------------------------
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/doc-scripts.json")
for i in $(seq "$n"); do
	src=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[int(sys.argv[2])-1]["source"])' \
		"$work/doc-scripts.json" "$i")
	if ! c systemctl start "$(result_unit "doc$i")"; then
		bad "script from $src: its unit succeeds" "$(c journalctl --no-pager -o cat -u "$(result_unit "doc$i")" | tail -20)"
		continue
	fi
	# OK or WARNING: a CRITICAL or UNKNOWN means the script could not do its job here.
	known=$(results_for "doc$i")
	fine=$(($(results_for "doc$i" body.state=0) + $(results_for "doc$i" body.state=1)))
	if [ "$known" -ge 1 ] && [ "$fine" -eq "$known" ]; then
		ok "script from $src runs unchanged under the NixOS PATH and its sandbox"
	else
		bad "script from $src runs unchanged under the NixOS PATH and its sandbox" \
			"results: $known, OK or WARNING: $fine" "$(c journalctl --no-pager -o cat -u "$(result_unit "doc$i")" | tail -20)"
	fi
done

# ---- a command that is not on the PATH ------------------------------------------------------
check "a script with a missing command: the unit still succeeds" c systemctl start "$(result_unit missing)"
expect_eq "a script with a missing command is reported UNKNOWN, not OK" "1 0" \
	"$(results_for missing body.state=3) $(results_for missing body.state=0)"
missing_output=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["body"].get("name") == "missing": print(e["body"]["output"])' "$work/api/requests.jsonl")
expect_match "the UNKNOWN output names the missing command" "no-such-tool" "$missing_output"

# ---- watched units and the failed-units check -------------------------------------------------
watch_results() { api_count /api/services/results body.host=nixcloud-test "body.name=$1" "${@:2}"; }
watch_output() {
	python3 -c '
import json, sys
outs = [json.loads(l)["body"] for l in open(sys.argv[1])]
outs = [b["output"] for b in outs if b.get("host") == "nixcloud-test" and b.get("name") == sys.argv[2]]
print(outs[-1] if outs else "")' "$work/api/requests.jsonl" "$1"
}
check "a watched unit that succeeds runs" c systemctl start sys-job-ok.service
if wait_for 20 'test "$(watch_results job-ok body.state=0)" -ge 1'; then
	expect_match "its result is OK with the unit, the exit status, the run time and that run's log" \
		"^sys-job-ok.service succeeded, exit status 0 after [0-9]+ s
last 1 lines of this run's log:
backed up 42 files$" "$(watch_output job-ok)"
else
	bad "a watched unit that succeeds is reported OK" "$(c journalctl --no-pager -o cat -u 'nixcloud.monitoring-watch*' | tail -10)"
fi
c systemctl start sys-job-bad.service 2>/dev/null || true
if wait_for 20 'test "$(watch_results job-bad body.state=2)" -ge 1'; then
	expect_match "a watched unit that fails is reported CRITICAL with its status and log" \
		"^sys-job-bad.service failed \(exit-code\), exit status 3 after [0-9]+ s
last 1 lines of this run's log:
fatal: repository is locked$" "$(watch_output job-bad)"
else
	bad "a watched unit that fails is reported CRITICAL" "$(c journalctl --no-pager -o cat -u 'nixcloud.monitoring-watch*' | tail -10)"
fi
expect_eq "a watched unit that never ran: registered with its timeout, no result" "yes 0" \
	"$([ "$(api_count /api/services body.payload.name=job-never body.payload.timers.timeout=60)" -ge 1 ] && echo yes) $(watch_results job-never)"
check "the failed-units check runs" c systemctl start $prefix-passive-result-nixcloud-test-systemd.service
expect_match "the failed-units check is CRITICAL naming the failed unit and its last lines" \
	"^1 failed: sys-job-bad.service
sys-job-bad.service: .*fatal: repository is locked" "$(watch_output systemd)"
expect_eq "… with state CRITICAL" 1 "$(watch_results systemd body.state=2)"
c systemctl reset-failed sys-job-bad.service
c systemctl start $prefix-passive-result-nixcloud-test-systemd.service
expect_eq "with no failed unit the failed-units check is OK" "1 no failed units" \
	"$(watch_results systemd body.state=0) $(watch_output systemd)"

# ---- the per-target commands: root, a group member, an outsider --------------------------------
cmd=/usr/local/bin/$prefix-passive-result-sys-manual
check "root's command succeeds" c "$cmd" "from root" "" 0
expect_eq "root's result was delivered" 1 "$(results_for manual body.output=from\ root)"
check "a group member's command succeeds (spool)" c su alice -s /bin/bash -c "$cmd 'from alice' '' 1"
if wait_for 15 'test "$(results_for manual "body.output=from alice" body.state=1)" -eq 1' ; then
	ok "the path unit delivers the group member's result"
else
	bad "the path unit delivers the group member's result" "$(c systemctl status $prefix-flush.path $prefix-flush.service 2>&1 | tail -20)"
fi
bob_out=$(c su bob -s /bin/bash -c "$cmd 'from bob' '' 0" 2>&1) && bob_rc=0 || bob_rc=$?
expect_eq "an outsider's command fails" 1 "$bob_rc"
expect_match "the outsider is told who may submit" "nixcloud-monitoring" "$bob_out"
expect_eq "nothing from the outsider arrived" 0 "$(results_for manual 'body.output=from bob')"

# ---- a burst through the spool: three group members, 100 results within 10 s -----------------
burst_start=$SECONDS
burst_pids=()
for member in alice carol dave; do
	c su "$member" -s /bin/bash -c "for i in \$(seq 34); do $cmd \"burst $member \$i\" '' 0 >/dev/null || echo FAILED; sleep 0.1; done" \
		>"$work/burst-$member.log" 2>&1 &
	burst_pids+=($!)
done
wait "${burst_pids[@]}"
burst_sent=$SECONDS
expect_eq "the burst was submitted within 10 s, every command succeeded" "yes " \
	"$([ $((burst_sent - burst_start)) -le 10 ] && echo yes) $(cat "$work"/burst-*.log)"
burst_count() { python3 -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["body"].get("output", "").startswith("burst ")))' "$work/api/requests.jsonl"; }
if wait_for 15 'test "$(burst_count)" -eq 102'; then
	ok "all 102 burst results were delivered within 15 s of the last ($((SECONDS - burst_sent)) s)"
	echo "     figure: burst of 102 results through the spool, delivered $((SECONDS - burst_sent)) s after the last submit"
else
	bad "all 102 burst results were delivered within 15 s of the last" "delivered: $(burst_count)" \
		"$(c systemctl status $prefix-flush.path 2>&1 | tail -5)"
fi
expect_eq "after the burst no unit failed and the system is running" "0 running" \
	"$(c systemctl list-units --failed --no-legend | wc -l) $(c systemctl is-system-running || true)"
c su alice -s /bin/bash -c "$cmd 'after the burst' '' 0" >/dev/null
wait_for 15 'test "$(results_for manual "body.output=after the burst")" -eq 1' &&
	ok "the path unit still delivers after the burst" || bad "the path unit still delivers after the burst"

# ---- an outage, then recovery -----------------------------------------------------------------
api_mode 503
mark_now
check "during an outage a script's unit succeeds (result queued)" c systemctl start "$(result_unit doc1)"
check "a command during an outage exits 3 (queued), as documented" bash -c \
	"nsenter -t $leader -a $cmd 'during outage' '' 2; [ \$? -eq 3 ]"
expect_match "the journal warns that the result is queued" "queue" "$(journal "$(result_unit doc1)")"
expect_eq "no unit failed during the outage" "0" "$(c systemctl list-units --failed --no-legend | wc -l)"
expect_eq "the system stays 'running' during the outage" running "$(c systemctl is-system-running || true)"
status_out=$(c "${agent_cmd[@]}" status 2>&1 || true)
expect_match "status shows the backlog" "2 waiting" "$status_out"
check_out=$(c "${agent_cmd[@]}" status --check 2>&1) && check_rc=0 || check_rc=$?
expect_match "the backlog check stays OK while the queue is younger than the timeout" \
	"^0 OK: 2 results queued" "$check_rc $check_out"
api_mode 200
before=$(results_for manual 'body.output=during outage')
check "flush after the outage succeeds" c systemctl start $prefix-flush.service
expect_eq "the queued result arrived after the outage" "0 1" "$before $(results_for manual 'body.output=during outage')"
expect_eq "nothing is left in the queue" "0" "$(c find /var/lib/nixcloud-monitoring/queue -maxdepth 1 -type f -name '[0-9]*' | wc -l)"

# ---- a registration the server refused is tried again by itself --------------------------------
api_mode 503
reg_before=$(api_count /api/services body.payload.name=manual)
c systemctl start --no-block $prefix-register.service
if wait_for 30 'c "${agent_cmd[@]}" status | grep -q "; next try "'; then
	ok "status says when the next registration try is due" 
else
	bad "status says when the next registration try is due" "$(c "${agent_cmd[@]}" status 2>&1 | tail -5)"
fi
expect_eq "meanwhile the register unit waits (activating), nothing failed" "activating 0" \
	"$(c systemctl show -p ActiveState --value $prefix-register.service) $(c systemctl list-units --failed --no-legend | wc -l)"
api_mode 200
t0=$SECONDS
if wait_for 300 'test "$(api_count /api/services body.payload.name=manual)" -gt "$reg_before"'; then
	ok "after a 503 the registration arrives within 5 min, nobody touching the machine ($((SECONDS - t0)) s)"
	echo "     figure: registration retried $((SECONDS - t0)) s after the server came back (timers mode)"
else
	bad "after a 503 the registration arrives within 5 min, nobody touching the machine"
fi
wait_for 10 'test "$(c systemctl show -p ActiveState --value $prefix-register.service)" == inactive'
expect_eq "the register unit then ends successfully" "inactive success" \
	"$(c systemctl show -p ActiveState --value $prefix-register.service) $(c systemctl show -p Result --value $prefix-register.service)"

# ---- the sandbox: systemd-analyze security, real -----------------------------------------------
for unit in $(cd "$machine/etc/systemd/system" && ls $prefix-*.service | sed 's/@\.service$/@x.service/'); do
	expect_secure "$unit"
done

# ---- a switch that adds one target and removes another ----------------------------------------
regs_before=$(api_count /api/services body.payload.name=added)
t0=$SECONDS
switch_to v2
if wait_for 60 'test "$(api_count /api/services body.payload.name=added)" -gt "$regs_before"' ; then
	ok "after a switch the server knows the added target within 60 s ($((SECONDS - t0)) s)"
	echo "     figure: switch to registration of the added target: $((SECONDS - t0)) s (timers mode)"
else
	bad "after a switch the server knows the added target within 60 s"
fi
last_round=$(python3 -c '
import json, sys
regs = [json.loads(l) for l in open(sys.argv[1]) if "\"/api/services\"" in l]
last = max((r["at"] for r in regs if r["body"]["payload"]["name"] == "added"), default=0)
names = {r["body"]["payload"]["name"] for r in regs if abs(r["at"] - last) < 5}
print("added" in names, "removed" in names)' "$work/api/requests.jsonl")
expect_eq "the registration after the switch no longer names the removed target" "True False" "$last_round"
check "the removed target's command is gone" test ! -e "$machine/usr/local/bin/$prefix-passive-result-sys-removed"
failed_units=$(c systemctl list-units --failed --no-legend --plain | awk '{print $1}')
if [ -z "$failed_units" ]; then
	ok "no unit failed after the switch"
else
	bad "no unit failed after the switch" "$(for u in $failed_units; do echo "$u:"; c journalctl --no-pager -o cat -u "$u" | tail -8; done)"
fi

# ---- daemon mode --------------------------------------------------------------------------------
regs_before=$(api_count /api/services body.payload.name=added)
switch_to daemon
if wait_for 30 'test "$(c systemctl show -p ActiveState --value $prefix.service)" == active' ; then
	ok "the daemon is active (READY=1 received)"
else
	bad "the daemon is active (READY=1 received)" "$(c journalctl --no-pager -o cat -u $prefix.service | tail -20)"
fi
wait_for 10 'test -n "$(c systemctl show -p StatusText --value $prefix.service)"'
expect_match "the daemon reports a STATUS" "." "$(c systemctl show -p StatusText --value $prefix.service)"
wait_for 30 'test "$(api_count /api/services body.payload.name=added)" -gt "$regs_before"' &&
	ok "the daemon registers at start" || bad "the daemon registers at start"
# A server that accepts connections and never answers: the daemon says what it waits for.
api_mode hang
c systemctl restart $prefix.service
if wait_for 20 'c systemctl show -p StatusText --value $prefix.service | grep -q "no answer from"'; then
	expect_match "the daemon's STATUS says what it waits for, and for how long" \
		"^registering [0-9]+ targets: no answer from http://127\.0\.0\.1:[0-9]+ for [0-9]+ s$" \
		"$(c systemctl show -p StatusText --value $prefix.service)"
	expect_match "status says the same" "now: registering [0-9]+ targets: no answer from" \
		"$(c "${agent_cmd[@]}" status)"
else
	bad "the daemon's STATUS says what it waits for" "$(c systemctl show -p StatusText --value $prefix.service)"
fi
# The same server answering 503: the daemon tries again by itself within 5 minutes.
api_mode 503
c systemctl restart $prefix.service
regs_before=$(api_count /api/services body.payload.name=added)
sleep 3
api_mode 200
t0=$SECONDS
if wait_for 300 'test "$(api_count /api/services body.payload.name=added)" -gt "$regs_before"'; then
	ok "the daemon retries a refused registration within 5 min ($((SECONDS - t0)) s)"
	echo "     figure: registration retried $((SECONDS - t0)) s after the server came back (daemon mode)"
else
	bad "the daemon retries a refused registration within 5 min"
fi
# A switch that adds a target: the daemon restarts (X-Restart-Triggers) and registers it.
t0=$SECONDS
switch_to daemon2
if wait_for 60 'test "$(api_count /api/services body.payload.name=added2)" -ge 1'; then
	ok "after a switch the server knows the added target within 60 s in daemon mode ($((SECONDS - t0)) s)"
	echo "     figure: switch to registration of the added target: $((SECONDS - t0)) s (daemon mode)"
else
	bad "after a switch the server knows the added target within 60 s in daemon mode"
fi
expect_secure $prefix.service "daemon, with the doc scripts' loosening"
# Watched units and the failed-units check in daemon mode.
ok_before=$(watch_results job-ok)
c systemctl start sys-job-ok.service
wait_for 20 'test "$(watch_results job-ok)" -gt "$ok_before"' &&
	ok "daemon mode: a watched unit's run is reported" || bad "daemon mode: a watched unit's run is reported"
wait_for 20 'test "$(watch_results systemd)" -ge 3' &&
	ok "daemon mode: the daemon runs the failed-units check" || bad "daemon mode: the daemon runs the failed-units check"
# systemctl reload: SIGHUP through ExecReload=; the same process reads its config again.
pid=$(c systemctl show -p MainPID --value $prefix.service)
check "systemctl reload of the daemon succeeds" c systemctl reload $prefix.service
if wait_for 15 'c systemctl show -p StatusText --value $prefix.service | grep -q "^reloaded "'; then
	ok "the daemon says it reloaded: $(c systemctl show -p StatusText --value $prefix.service)"
else
	bad "the daemon says it reloaded" "$(c systemctl show -p StatusText --value $prefix.service)"
fi
expect_eq "a reload keeps the process (no restart)" "$pid active" \
	"$(c systemctl show -p MainPID --value $prefix.service) $(c systemctl show -p ActiveState --value $prefix.service)"
# Two watchdog periods, shortened by a drop-in so the test stays short.
mkdir -p "$machine/etc/systemd/system/$prefix.service.d"
printf '[Service]\nWatchdogSec=2s\n' >"$machine/etc/systemd/system/$prefix.service.d/watchdog.conf"
c systemctl daemon-reload
c systemctl restart $prefix.service
pid=$(c systemctl show -p MainPID --value $prefix.service)
sleep 5
expect_eq "no watchdog restart over two periods" "0 $pid active" \
	"$(c systemctl show -p NRestarts --value $prefix.service) $(c systemctl show -p MainPID --value $prefix.service) $(c systemctl show -p ActiveState --value $prefix.service)"
c systemctl stop $prefix.service
expect_eq "the daemon stops cleanly" "inactive success" \
	"$(c systemctl show -p ActiveState --value $prefix.service) $(c systemctl show -p Result --value $prefix.service)"

# ---- the prometheus backend beside nixcloud: the textfile under the units' sandbox -------------
# The node exporter runs as NixOS runs it (user node-exporter, ProtectSystem=strict), reading
# the directory the module's tmpfiles rule makes; the agent's units write it through
# ReadWritePaths=. A group member's result goes through the spool into both backends' queues.
switch_to prom
textdir=/var/lib/nixcloud-monitoring-textfile
expect_eq "the textfile directory is the agent's, with the exporter's group, 2750" \
	"nixcloud-monitoring node-exporter 2750" "$(c stat -c '%U %G %a' $textdir)"
cp /usr/bin/prometheus-node-exporter "$machine/usr/local/bin/"
exporter_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
c systemd-run --quiet --unit=node-exporter-test -p User=node-exporter -p Group=node-exporter \
	-p ProtectSystem=strict -p ProtectHome=yes -p PrivateTmp=yes -p UMask=0077 \
	/usr/local/bin/prometheus-node-exporter --web.listen-address=127.0.0.1:$exporter_port \
	--collector.disable-defaults --collector.textfile --collector.textfile.directory=$textdir
prom_file=$textdir/nixcloud-monitoring.prom
if wait_for 40 'c grep -q "nixcloud_monitoring_registered_timestamp_seconds{.*target=\"sys-manual\"" $prom_file'; then
	ok "after the switch the registration writes the textfile from the sandboxed unit"
else
	bad "after the switch the registration writes the textfile from the sandboxed unit" \
		"$(c journalctl --no-pager -o cat -u "$prefix-register*" | tail -10)"
fi
before=$(results_for manual "body.output=to both")
check "a group member's command succeeds with two backends" c su alice -s /bin/bash -c "$cmd 'to both' '' 1"
if wait_for 20 'c grep -q "^nixcloud_monitoring_state{.*target=\"sys-manual\".*} 1$" $prom_file'; then
	ok "the spooled result reaches the prometheus backend (state 1 in the textfile)"
else
	bad "the spooled result reaches the prometheus backend" "$(c cat $prom_file 2>&1 | grep sys-manual)"
fi
wait_for 20 'test "$(results_for manual "body.output=to both")" -gt "$before"' &&
	ok "the same result reaches the nixcloud backend" || bad "the same result reaches the nixcloud backend"
expect_eq "the textfile is 0644 with the exporter's group" "644 node-exporter" "$(c stat -c '%a %G' $prom_file)"
scrape=$(curl -s --max-time 5 "http://127.0.0.1:$exporter_port/metrics" || true)
expect_match "the node exporter, as its own user, serves the result" \
	'nixcloud_monitoring_state\{host="sys",service="manual",target="sys-manual"\} 1' "$scrape"
expect_match "the node exporter reads the textfile without error" '^node_textfile_scrape_error 0$' \
	"$(grep '^node_textfile_scrape_error' <<<"$scrape")"
expect_eq "the exporter's user cannot write the directory" "denied" \
	"$(c setpriv --reuid=node-exporter --regid=node-exporter --init-groups touch $textdir/x 2>/dev/null && echo written || echo denied)"
expect_eq "no unit failed with two backends" "0" "$(c systemctl list-units --failed --no-legend | wc -l)"
c systemctl stop node-exporter-test

# ---- the page backend beside nixcloud: the status page under the units' sandbox ---------------
# A web server's user and group (nginx, as nixpkgs makes it); the module's tmpfiles rule gives
# the page's directory that group. Read as that user, as the web server would.
c useradd --system --user-group --no-create-home --shell /usr/sbin/nologin nginx
switch_to page
pagedir=/var/lib/nixcloud-monitoring-page
as_nginx() { c setpriv --reuid=nginx --regid=nginx --init-groups "$@"; }
expect_eq "the page's directory is the agent's, with the web server's group, 2750" \
	"nixcloud-monitoring nginx 2750" "$(c stat -c '%U %G %a' $pagedir)"
if wait_for 40 'as_nginx grep -q "\"id\":\"sys-added\"" $pagedir/status.json'; then
	ok "after the switch the sandboxed register unit writes the page"
else
	bad "after the switch the sandboxed register unit writes the page" \
		"$(c journalctl --no-pager -o cat -u "$prefix-register*" | tail -10)" "$(c ls -la $pagedir 2>&1)"
fi
t0=$(date +%s%N)
check "root's command with the page among the backends succeeds" c "$cmd" "on the page <b>" "" 1
if wait_for 2 'as_nginx grep -q "on the page &lt;b&gt;" $pagedir/index.html'; then
	ok "a result submitted by hand is on the page within 2 s ($(( ($(date +%s%N) - t0) / 1000000 )) ms), escaped, read as the web server's user"
else
	bad "a result submitted by hand is on the page within 2 s" "$(as_nginx grep -o 'on the page[^<]*' $pagedir/index.html 2>&1)"
fi
t0=$(date +%s%N)
check "a group member's command succeeds with the page (spool)" c su alice -s /bin/bash -c "$cmd 'from alice, on the page' '' 0"
if wait_for 15 'as_nginx grep -q "from alice, on the page" $pagedir/status.json'; then
	ok "the spooled result reaches the page through the sandboxed flush unit ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
	echo "     figure: spooled result on the page $(( ($(date +%s%N) - t0) / 1000000 )) ms after the submit"
else
	bad "the spooled result reaches the page through the sandboxed flush unit" \
		"$(c journalctl --no-pager -o cat -u "$prefix-flush.service" | tail -10)"
fi
expect_eq "the page's files are 0644 in the web server's group" "644 nginx 644 nginx" \
	"$(c stat -c '%a %G' $pagedir/index.html) $(c stat -c '%a %G' $pagedir/status.json)"
expect_eq "the badge is there, readable by the web server" "yes" \
	"$(as_nginx test -r $pagedir/badges/sys-manual.svg && echo yes)"
expect_eq "the web server's user cannot write the directory" "denied" \
	"$(as_nginx touch $pagedir/x 2>/dev/null && echo written || echo denied)"
expect_eq "others cannot read the page" "denied" \
	"$(c setpriv --reuid=bob --regid=bob --init-groups cat $pagedir/index.html >/dev/null 2>&1 && echo read || echo denied)"
check "the history is kept in the state directory" c test -s /var/lib/nixcloud-monitoring/page/history/sys-manual.hist
expect_eq "no unit failed with the page" "0" "$(c systemctl list-units --failed --no-legend | wc -l)"
