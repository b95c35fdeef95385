# Watched units and the failed-units check, as plain data (builtins only, so
# nix/tests and the system test use it without nixpkgs; module.nix wires it).
#
#   { cfg; hostName; restic ? { }; borgbackup ? { }; timers ? { }; }
#     cfg         the evaluated config.nixcloud.monitoring
#     hostName    the machine's host name (host of the targets made here)
#     restic      config.services.restic.backups (for watch.resticBackups)
#     borgbackup  config.services.borgbackup.jobs (for watch.borgbackupJobs)
#     timers      config.systemd.timers: a watched X.service without
#                 timers.timeout runs on timers.X's OnCalendar
#   -> {
#     targets     passive targets to add to targets.passive
#     watched     [ { id; escaped; unit; } ]: units whose every run is reported
#     assertions  [ { assertion; message; } ]
#   }
#
# A watched unit's run is pushed when it ends: OnSuccess=/OnFailure= start
# nixcloud.monitoring-watch@<escaped id>.service (units.nix), which runs
# `nixcloud-monitoring report-unit <id>`. A run that never happens is caught by
# the server's freshness check: after timers.timeout minutes, or, for a unit
# on a calendar (its own timer's OnCalendar, whatever it says), after the
# calendar's longest gap plus the grace, which the agent computes with
# systemd's rules.
let
  escape = import ./escape.nix;
  inherit (builtins)
    attrNames
    filter
    hasAttr
    match
    ;

  # OnCalendar as a list (it may be one string or several); null: none.
  calendarList =
    c:
    if c == null || c == [ ] then
      null
    else if builtins.isList c then
      c
    else
      [ c ];

  passive = host: name: extra: {
    inherit host name;
    tags = [ ];
    public = true;
    apiKey = null;
    apiKeyFile = null;
    script = "";
    scriptTimeout = null;
    path = [ ];
    serviceConfig = { };
  }
  // extra;
in
{
  cfg,
  hostName,
  restic ? { },
  borgbackup ? { },
  timers ? { },
}:
let
  w = cfg.watch or { };
  # watch.<name> = { unit; timers…; } beside the two shortcut switches.
  explicit = builtins.removeAttrs w [
    "_module"
    "resticBackups"
    "borgbackupJobs"
  ];

  # The shortcuts: one watch per restic backup / borg job, named restic-<n> /
  # borgbackup-<n>, on the job's own calendar; an explicit watch of the same
  # name wins.
  shortcut =
    prefix: unitOf: calendarOf: jobs:
    map (job: {
      name = "${prefix}-${job}";
      unit = unitOf job;
      host = null;
      check = null;
      timeout = null;
      calendar = calendarList (calendarOf jobs.${job});
      grace = null;
      failureThreshold = null;
    }) (filter (job: !(hasAttr "${prefix}-${job}" explicit)) (attrNames jobs));

  resticJobs =
    if w.resticBackups or false then
      shortcut "restic" (n: "restic-backups-${n}.service") (
        j: if (j.timerConfig or null) == null then null else j.timerConfig.OnCalendar or null
      ) restic
    else
      [ ];
  borgJobs =
    if w.borgbackupJobs or false then
      shortcut "borgbackup" (n: "borgbackup-job-${n}.service") (j: j.startAt or null) borgbackup
    else
      [ ];

  # The calendar of the timer that starts `unit` (X.timer starts X.service).
  timerCalendar =
    unit:
    let
      base = builtins.substring 0 (builtins.stringLength unit - 8) unit;
    in
    calendarList ((timers.${base} or { }).timerConfig.OnCalendar or null);

  fromExplicit = map (
    name:
    let
      v = explicit.${name};
      t = v.timers or { };
      timeout = t.timeout or null;
    in
    {
      inherit name;
      inherit (v) unit;
      host = v.host or null;
      check = t.check or null;
      inherit timeout;
      # Without a timeout: the calendar given, else the unit's own timer's.
      calendar =
        if timeout != null then
          null
        else if (t.calendar or null) != null then
          calendarList t.calendar
        else
          timerCalendar v.unit;
      grace = t.grace or null;
      failureThreshold = v.failureThreshold or null;
    }
  ) (attrNames explicit);

  watches = fromExplicit ++ resticJobs ++ borgJobs;
  # Neither a timeout nor a calendar: nothing says when a run is missing (an
  # assertion). Every watch is a target all the same: which ones there are
  # must not depend on a calendar read from config.systemd.timers, which the
  # module's own timers are part of (infinite recursion).
  unscheduled = filter (v: v.timeout == null && v.calendar == null) watches;
  scheduled = watches;

  watchTarget =
    v:
    passive (if v.host == null then hostName else v.host) v.name {
      timers =
        if v.timeout != null then
          {
            check = if v.check != null then v.check else (if v.timeout > 1 then v.timeout / 2 else 1);
            inherit (v) timeout;
          }
        else
          {
            inherit (v) calendar grace;
          };
      inherit (v) failureThreshold;
    };

  notService = filter (v: match ".*\\.service" v.unit == null) watches;

  failedUnits = cfg.hostChecks.failedUnits or { };
  failedUnitsTarget = passive hostName "systemd" {
    timers = {
      check = failedUnits.interval or 5;
      timeout = 3 * (failedUnits.interval or 5);
    };
    # systemctl and journalctl are on every NixOS unit's PATH; reading other
    # units' logs takes the systemd-journal group.
    serviceConfig.SupplementaryGroups = [ "systemd-journal" ];
    script = ''
      # The last lines of a unit's last run: tagged with its invocation id, or
      # (journald may miss that id on a short process's last line) the unit's
      # own lines since the run started.
      last_lines() {
        local inv since
        inv=$(systemctl show --property=InvocationID --value "$1")
        since=$(systemctl show --timestamp=unix --property=ExecMainStartTimestamp --value "$1")
        journalctl --no-pager --quiet --output=cat --lines=3 ''${since:+--since="$since"} \
          _SYSTEMD_INVOCATION_ID="$inv" ''${since:+"+" "_SYSTEMD_UNIT=$1"} | tr '\n' ' '
      }
      failed=$(systemctl list-units --failed --plain --no-legend --no-pager | cut -d' ' -f1)
      count=$(printf '%s' "$failed" | grep -c . || true)
      perfdata="failed_units=$count;;1;0"
      if [ "$count" -eq 0 ]; then
        exit=0; status="no failed units"
      else
        exit=2; status="$count failed: $(echo $failed)"
        for unit in $failed; do
          status="$status
      $unit: $(last_lines "$unit")"
        done
      fi
    '';
  };
in
{
  targets =
    map watchTarget scheduled ++ (if failedUnits.enable or false then [ failedUnitsTarget ] else [ ]);

  watched = map (
    v:
    let
      id = escape.targetId {
        host = if v.host == null then hostName else v.host;
        inherit (v) name;
      };
    in
    {
      inherit id;
      inherit (v) unit;
      escaped = escape.escapeId id;
    }
  ) scheduled;

  assertions = [
    {
      assertion = unscheduled == [ ];
      message = ''
        nixcloud.monitoring.watch: these units have no timer the module can see, so when a run
        is missing is unknown:
        ${builtins.concatStringsSep "\n" (map (v: "  - ${v.name}: ${v.unit}") unscheduled)}
        Give each timers.calendar (the OnCalendar= its runs follow) or timers.timeout (minutes),
        e.g. nixcloud.monitoring.watch."${(builtins.head (unscheduled ++ [ { name = "x"; } ])).name}".timers.calendar = "daily";'';
    }
    {
      assertion = notService == [ ];
      message = ''
        nixcloud.monitoring.watch: only .service units can be watched:
        ${builtins.concatStringsSep "\n" (map (v: "  - ${v.name}: ${v.unit}") notService)}'';
    }
  ];

}
