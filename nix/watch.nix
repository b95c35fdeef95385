# Watched units and the failed-units check, as plain data (builtins only, so
# nix/tests and the system test use it without nixpkgs; module.nix wires it).
#
#   { cfg; hostName; restic ? { }; borgbackup ? { }; }
#     cfg         the evaluated config.nixcloud.monitoring
#     hostName    the machine's host name (host of the targets made here)
#     restic      config.services.restic.backups (for watch.resticBackups)
#     borgbackup  config.services.borgbackup.jobs (for watch.borgbackupJobs)
#   -> {
#     targets     passive targets to add to targets.passive
#     watched     [ { id; escaped; unit; } ]: units whose every run is reported
#     assertions  [ { assertion; message; } ]
#   }
#
# A watched unit's run is pushed when it ends: OnSuccess=/OnFailure= start
# nixcloud.monitoring-watch@<escaped id>.service (units.nix), which runs
# `nixcloud-monitoring report-unit <id>`. A run that never happens is caught by
# the server's freshness check after timers.timeout minutes.
let
  escape = import ./escape.nix;
  inherit (builtins)
    attrNames
    filter
    hasAttr
    match
    ;

  # Minutes between two runs of a systemd calendar shorthand; null when the
  # expression is anything else (then the admin says it).
  calendarMinutes = {
    minutely = 1;
    hourly = 60;
    daily = 1440;
    weekly = 10080;
    monthly = 44640;
  };
  periodOf = onCalendar: if builtins.isString onCalendar then calendarMinutes.${onCalendar} or null else null;

  # A run may be late by up to half its period (RandomizedDelaySec, a slow
  # backup) before its absence is an alarm.
  timeoutFor = period: period + period / 2;

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
  # borgbackup-<n>; an explicit watch of the same name wins.
  shortcut =
    prefix: unitOf: calendarOf: jobs:
    map (job: {
      name = "${prefix}-${job}";
      unit = unitOf job;
      period = periodOf (calendarOf jobs.${job});
      calendar = calendarOf jobs.${job};
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
  derived = resticJobs ++ borgJobs;
  underivable = filter (j: j.period == null) derived;

  fromExplicit = map (name: {
    inherit name;
    inherit (explicit.${name}) unit;
    host = explicit.${name}.host or null;
    check = explicit.${name}.timers.check or null;
    timeout = explicit.${name}.timers.timeout;
  }) (attrNames explicit);
  fromShortcuts = map (j: {
    inherit (j) name unit;
    host = null;
    check = j.period;
    timeout = timeoutFor j.period;
  }) (filter (j: j.period != null) derived);

  watches = fromExplicit ++ fromShortcuts;

  watchTarget =
    v:
    passive (if v.host == null then hostName else v.host) v.name {
      timers = {
        check = if v.check != null then v.check else (if v.timeout > 1 then v.timeout / 2 else 1);
        inherit (v) timeout;
      };
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
    map watchTarget watches ++ (if failedUnits.enable or false then [ failedUnitsTarget ] else [ ]);

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
  ) watches;

  assertions = [
    {
      assertion = underivable == [ ];
      message = ''
        nixcloud.monitoring.watch: how often these jobs run cannot be read from their
        timer (only minutely, hourly, daily, weekly and monthly are understood), so the
        time after which a missing run is an alarm is unknown:
        ${builtins.concatStringsSep "\n" (
          map (j: "  - ${j.unit} (${builtins.toJSON j.calendar})") underivable
        )}
        Watch each explicitly, e.g. nixcloud.monitoring.watch."${(builtins.head (underivable ++ [ { name = "x"; } ])).name}" = {
          unit = "${(builtins.head (underivable ++ [ { unit = "x.service"; } ])).unit}"; timers.timeout = <minutes>; };'';
    }
    {
      assertion = notService == [ ];
      message = ''
        nixcloud.monitoring.watch: only .service units can be watched:
        ${builtins.concatStringsSep "\n" (map (v: "  - ${v.name}: ${v.unit}") notService)}'';
    }
  ];

}
