# The notify destination under the real systemd (sourced by run.sh after cases.sh): mail leaves
# the sandboxed units through msmtp's sendmail and over SMTP to 127.0.0.1, into the real SMTP
# server on the host (tests/smtp/server.py, $smtp_port), in timers mode and in daemon mode.

sendmail_to=sendmail-channel@example.org
smtp_to=smtp-channel@example.org
both_channels() { # both_channels SUBJECT_REGEX N: each channel has at least N such mails
	[ "$(mail_count $sendmail_to "$1")" -ge "$2" ] && [ "$(mail_count $smtp_to "$1")" -ge "$2" ]
}
notify_logs() { c journalctl --no-pager -o cat -u "$prefix-notify*" -u "$prefix-watch*" | tail -20; }
silent_cmd=/usr/local/bin/$prefix-passive-result-sys-silent

# msmtp as NixOS's programs.msmtp sets it up: /etc/msmtprc, and /run/wrappers/bin/sendmail, a
# plain program (not setuid) that reads it. /run is a tmpfs: the link comes from tmpfiles.
cat >"$machine/etc/msmtprc" <<EOF
defaults
auth off
tls off
syslog off
account default
host 127.0.0.1
port $smtp_port
from nixcloud-test@example.org
EOF
chmod 644 "$machine/etc/msmtprc"
printf 'd /run/wrappers/bin 0755 root root - -\nL+ /run/wrappers/bin/sendmail - - - - /usr/bin/msmtp\n' \
	>"$machine/etc/tmpfiles.d/wrappers.conf"
c systemd-tmpfiles --create /etc/tmpfiles.d/wrappers.conf

# ---- timers mode --------------------------------------------------------------------------------
switch_to notify
expect_eq "the notify timer and path unit are active" "active active" \
	"$(c systemctl is-active $prefix-notify.timer) $(c systemctl is-active $prefix-notify.path)"
check "the test notice unit succeeds" c systemctl start $prefix-notify-test.service
if wait_for 20 'both_channels "test notice from nixcloud-monitoring" 1'; then
	ok "a test notice leaves the sandboxed unit through msmtp's sendmail and over SMTP to 127.0.0.1"
else
	bad "a test notice leaves the sandboxed unit through both channels" "$(c journalctl --no-pager -o cat -u $prefix-notify-test.service | tail -10)"
fi
expect_eq "the test notice via SMTP carries the configured sender" "monitor@nixcloud-test.example.org" \
	"$(mail_show $smtp_to "test notice" From)"

# A target pushed by hand that then stops reporting: its timeout is 2 minutes.
c "$silent_cmd" "all good" "" 0 >/dev/null
silent_at=$SECONDS

# A watched unit fails: its mail arrives within 10 s, with its log lines (when no other notice
# went out in the 30 s before: that would hold it for the window).
quiet() { # no mail in the last $1 seconds
	local newest
	newest=$(ls -t "$work"/smtp/mail-*.eml 2>/dev/null | head -1)
	[ -z "$newest" ] || [ $(($(date +%s) - $(stat -c %Y "$newest"))) -ge "$1" ]
}
wait_for 60 'quiet 31'
c touch /run/flaky-broken
t0=$SECONDS
c systemctl start sys-job-flaky.service 2>/dev/null || true
if wait_for 10 'both_channels "^\[nixcloud-test\] CRITICAL flaky: " 1'; then
	ok "a watched unit that fails: its mail arrives within 10 s on both channels ($((SECONDS - t0)) s)"
	echo "     figure: failed unit to mail in the SMTP server: $((SECONDS - t0)) s"
else
	bad "a watched unit that fails: its mail arrives within 10 s" "$(notify_logs)"
fi
expect_match "its subject names the unit, how it ended and the exit status" \
	'^\[nixcloud-test\] CRITICAL flaky: sys-job-flaky.service failed \(exit-code\), exit status 3' \
	"$(mail_show $sendmail_to "CRITICAL flaky" Subject)"
expect_match "its body carries that run's log lines" "fatal: flaky cannot reach its repository" \
	"$(mail_show $smtp_to "CRITICAL flaky" body)"
expect_eq "it is marked Auto-Submitted" "auto-generated" "$(mail_show $sendmail_to "CRITICAL flaky" Auto-Submitted)"

# It succeeds again: the recovery, threaded under the problem (after the 30 s window).
c rm -f /run/flaky-broken
c systemctl start sys-job-flaky.service
if wait_for 60 'both_channels "^\[nixcloud-test\] OK flaky: " 1'; then
	ok "its recovery arrives on both channels"
else
	bad "its recovery arrives on both channels" "$(notify_logs)"
fi
for to in $sendmail_to $smtp_to; do
	expect_eq "the recovery answers the problem's mail ($to)" \
		"$(mail_show $to "CRITICAL flaky" Message-ID)" "$(mail_show $to "OK flaky" In-Reply-To)"
done

# The target pushed by hand stopped reporting: "no result" once its 2 minutes passed.
# (Alone, or in a digest with another change of the same window: its body names it.)
silent_told() {
	[ "$(mail_grep $1 "NO RESULT" "sys-silent")" -ge 1 ]
}
if wait_for 200 'silent_told $sendmail_to && silent_told $smtp_to'; then
	ok "a target that stops reporting gets its no-result notice ($((SECONDS - silent_at)) s after its result, timeout 120 s)"
	echo "     figure: no-result notice $((SECONDS - silent_at - 120)) s after the timeout passed (timers mode)"
else
	bad "a target that stops reporting gets its no-result notice" "$(notify_logs)"
fi

# A unit in a restart loop for 2 minutes: failing and recovering every 4 s (its first failure
# after a quiet window, so it goes out at once).
wait_for 60 'quiet 31'
loop_end=$((SECONDS + 120))
while [ $SECONDS -lt $loop_end ]; do
	c touch /run/loop-broken
	c systemctl start sys-job-loop.service 2>/dev/null || true
	sleep 2
	c rm -f /run/loop-broken
	c systemctl start sys-job-loop.service
	sleep 2
done
sleep 35 # the window of the last notice
expect_eq "a restart loop of 2 minutes: at most 2 mails on each channel" "yes yes" \
	"$([ "$(mail_count $sendmail_to " loop: ")" -le 2 ] && echo yes) $([ "$(mail_count $smtp_to " loop: ")" -le 2 ] && echo yes)"
expect_eq "… and its first failure was told as such" "1 1" \
	"$(mail_count $sendmail_to "CRITICAL loop: ") $(mail_count $smtp_to "CRITICAL loop: ")"
echo "     figure: restart loop of 2 minutes ($(c journalctl --no-pager -o cat -u sys-job-loop.service | grep -c 'fatal: loop') failures): $(mail_count $sendmail_to " loop: ") mails per channel"

# The SMTP server down for 2 minutes: a failure and its recovery meanwhile. Nothing fails, the
# notices wait; once the server is back they arrive, folded into one per channel, none twice.
stop_smtp
down_at=$SECONDS
c touch /run/flaky2-broken
c systemctl start sys-job-flaky2.service 2>/dev/null || true
sleep 3
c rm -f /run/flaky2-broken
c systemctl start sys-job-flaky2.service
sleep 3
expect_eq "while the mail server is down no unit failed" "0" "$(c systemctl list-units --failed --no-legend | wc -l)"
expect_match "status shows the notices waiting in the mail channel's queue" \
	"queue \(notify-mail\): [1-9][0-9]* waiting" "$(c "${agent_cmd[@]}" status 2>&1)"
sleep $((120 - (SECONDS - down_at)))
start_smtp
back_at=$SECONDS
if wait_for 400 'both_channels "^\[nixcloud-test\] OK flaky2: CRITICAL from .* to .*, OK again" 1'; then
	ok "after 2 minutes down: the folded notice arrives on both channels ($((SECONDS - back_at)) s after the server is back)"
	echo "     figure: notices sent $((SECONDS - back_at)) s after the mail server came back (timers mode, backoff)"
else
	bad "after 2 minutes down: the folded notice arrives" "$(notify_logs)" "$(c "${agent_cmd[@]}" status 2>&1 | tail -5)"
fi
sleep 10
expect_eq "… exactly once per channel, nothing else about flaky2" "1 1" \
	"$(mail_count $sendmail_to " flaky2: ") $(mail_count $smtp_to " flaky2: ")"
wait_for 30 '! c "${agent_cmd[@]}" status 2>&1 | grep -q "notify-mail): [1-9]"'
expect_match "nothing is left in the notify queues" "queue \(notify-mail\): 0 waiting" "$(c "${agent_cmd[@]}" status 2>&1)"

expect_secure $prefix-notify.service
expect_secure $prefix-notify-test.service

# Why README sends postfix users to SMTP on 127.0.0.1: under NoNewPrivileges= (every unit of
# the module has it) a setgid program does not get its group, so postfix's setgid postdrop
# cannot write its queue.
c cp /usr/bin/id /usr/local/bin/setgid-id
c chgrp mail /usr/local/bin/setgid-id
c chmod 2755 /usr/local/bin/setgid-id
expect_eq "a setgid program gets its group in a plain unit, not under NoNewPrivileges=" "mail root" \
	"$(c systemd-run --quiet --wait --pipe /usr/local/bin/setgid-id -gn) $(c systemd-run --quiet --wait --pipe -p NoNewPrivileges=yes /usr/local/bin/setgid-id -gn)"
c rm -f /usr/local/bin/setgid-id
expect_eq "no unit failed with notify in timers mode" "0" "$(c systemctl list-units --failed --no-legend | wc -l)"

# ---- daemon mode: the daemon itself sends what a unit held for the window --------------------
switch_to notify-daemon
wait_for 30 'test "$(c systemctl show -p ActiveState --value $prefix.service)" == active' ||
	bad "the daemon with notify is active" "$(c journalctl --no-pager -o cat -u $prefix.service | tail -20)"
expect_eq "daemon mode has no notify timer" "no" "$(c test -e /etc/systemd/system/$prefix-notify.timer && echo yes || echo no)"
wait_for 60 'quiet 31'
c touch /run/flaky3-broken
c systemctl start sys-job-flaky3.service 2>/dev/null || true
wait_for 15 'both_channels "^\[nixcloud-test\] CRITICAL flaky3: " 1' &&
	ok "daemon mode: the watched unit's failure is mailed at once" ||
	bad "daemon mode: the watched unit's failure is mailed at once" "$(notify_logs)"
c rm -f /run/flaky3-broken
c systemctl start sys-job-flaky3.service
if wait_for 60 'both_channels "^\[nixcloud-test\] OK flaky3: " 1'; then
	ok "daemon mode: the recovery held for the window is sent by the daemon"
else
	bad "daemon mode: the recovery held for the window is sent by the daemon" "$(c journalctl --no-pager -o cat -u $prefix.service | tail -20)"
fi
expect_eq "no unit failed with notify in daemon mode" "0" "$(c systemctl list-units --failed --no-legend | wc -l)"
