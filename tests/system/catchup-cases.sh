# The system test's last case (sourced by run.sh after every other one, since it reboots the
# container): a calendar run missed while the machine was off is caught up at boot
# (Persistent=true). Back to config v1 (timers mode), the midnight target's timer stamp set two
# days back, poweroff, boot.
switch_to v1
catchup_timer=$prefix-passive-result-sys-catchup.timer
catchup_before=$(results_for catchup)
c touch -d '2 days ago' "/var/lib/systemd/timers/stamp-$catchup_timer"
c systemctl poweroff || true
wait "$nspawn_pid" 2>/dev/null || true
t0=$SECONDS
boot
if wait_for 60 'test "$(results_for catchup)" -gt "$catchup_before"'; then
	ok "a calendar run missed while the machine was off is caught up at boot (Persistent)"
	echo "     figure: missed calendar run delivered $((SECONDS - t0)) s after the boot started"
else
	bad "a calendar run missed while the machine was off is caught up at boot (Persistent)" \
		"$(c systemctl status "$catchup_timer" 2>&1 | tail -10)"
fi

