# Watched units and the failed-units check (nix/watch.nix, nix/units.nix).
let
  lib = import ../lib.nix;
  f = import ./fixtures.nix;
  watch = args: import ../watch.nix ({ hostName = "box"; } // args);
  base = f.base // {
    apiKeyFile = "/k";
  };
  withWatch = w: base // { watch = w; };
  names = ts: map (t: "${t.host}-${t.name}") ts;
  failedMessages = r: map (a: a.message) (builtins.filter (a: !a.assertion) r.assertions);
  has = needle: haystack: builtins.match ".*${needle}.*" haystack != null;
  restic = {
    daily = { timerConfig = { OnCalendar = "daily"; Persistent = true; }; };
    odd = { timerConfig = { OnCalendar = "Mon *-*-* 03:00"; }; };
    manual = { timerConfig = null; };
  };
in
[
  {
    name = "an explicit watch is a passive target of this host, check half the timeout";
    expr =
      let
        r = watch { cfg = withWatch { backup = { unit = "restic-backups-daily.service"; host = null; timers = { check = null; timeout = 1560; }; }; }; };
      in
      [ (names r.targets) (builtins.head r.targets).timers r.watched (failedMessages r) ];
    expected = [
      [ "box-backup" ]
      { check = 780; timeout = 1560; }
      [ { id = "box-backup"; escaped = "box-backup"; unit = "restic-backups-daily.service"; } ]
      [ ]
    ];
  }
  {
    name = "resticBackups: each job on its timer's own OnCalendar, whatever it says; one without a timer asks";
    expr =
      let
        r = watch { cfg = withWatch { resticBackups = true; }; inherit restic; };
      in
      [
        (names r.targets)
        (map (t: t.timers) r.targets)
        (map (w: w.unit) r.watched)
        (has "restic-manual: restic-backups-manual.service" (builtins.head (failedMessages r)))
        (builtins.length (failedMessages r))
      ];
    expected = [
      # The one without a timer is a target too (its assertion stops the build).
      [ "box-restic-daily" "box-restic-manual" "box-restic-odd" ]
      [ { calendar = [ "daily" ]; grace = null; } { calendar = null; grace = null; } { calendar = [ "Mon *-*-* 03:00" ]; grace = null; } ]
      [ "restic-backups-daily.service" "restic-backups-manual.service" "restic-backups-odd.service" ]
      true
      1
    ];
  }
  {
    name = "minutely and a list: no timeout asked for, the calendar as it is";
    expr =
      let
        r = watch {
          cfg = withWatch { resticBackups = true; };
          restic = {
            often = { timerConfig.OnCalendar = "minutely"; };
            two = { timerConfig.OnCalendar = [ "Mon 03:00" "Thu 03:00" ]; };
          };
        };
      in
      [ (map (t: t.timers.calendar) r.targets) (failedMessages r) ];
    expected = [ [ [ "minutely" ] [ "Mon 03:00" "Thu 03:00" ] ] [ ] ];
  }
  {
    name = "an explicit watch without a timeout follows its unit's timer (startAt too), or timers.calendar";
    expr =
      let
        r = watch {
          cfg = withWatch {
            nightly = { unit = "nightly.service"; host = null; failureThreshold = 2; };
            weekly = { unit = "weekly.service"; host = null; timers.calendar = "Sun 04:00"; };
            lost = { unit = "lost.service"; host = null; };
          };
          timers = { nightly = { timerConfig.OnCalendar = "*-*-* 02:30"; }; };
        };
      in
      [
        (map (t: [ t.name t.timers t.failureThreshold ]) r.targets)
        (has "lost: lost.service" (builtins.head (failedMessages r)))
      ];
    expected = [
      [
        [ "lost" { calendar = null; grace = null; } null ]
        [ "nightly" { calendar = [ "*-*-* 02:30" ]; grace = null; } 2 ]
        [ "weekly" { calendar = [ "Sun 04:00" ]; grace = null; } null ]
      ]
      true
    ];
  }
  {
    name = "an explicit watch of the same name replaces the shortcut's";
    expr =
      let
        r = watch {
          cfg = withWatch {
            resticBackups = true;
            restic-odd = { unit = "restic-backups-odd.service"; host = "nas"; timers = { check = 10080; timeout = 12000; }; };
          };
          restic = { inherit (restic) odd; };
        };
      in
      [ (names r.targets) (failedMessages r) ];
    expected = [ [ "nas-restic-odd" ] [ ] ];
  }
  {
    name = "borgbackupJobs: startAt decides, the unit is borgbackup-job-<n>";
    expr = map (w: w.unit) (watch { cfg = withWatch { borgbackupJobs = true; }; borgbackup = { home = { startAt = "hourly"; }; }; }).watched;
    expected = [ "borgbackup-job-home.service" ];
  }
  {
    name = "only .service units can be watched";
    expr = has "only .service units" (builtins.head (failedMessages (watch { cfg = withWatch { t = { unit = "x.timer"; host = null; timers = { check = null; timeout = 5; }; }; }; })));
    expected = true;
  }
  {
    name = "the failed-units check: <host>-systemd every 5 min, alarm after 15, journal group";
    expr =
      let
        t = builtins.head (watch { cfg = base // { hostChecks.failedUnits = { enable = true; interval = 5; }; }; }).targets;
      in
      [ "${t.host}-${t.name}" t.timers t.serviceConfig (has "systemctl list-units --failed" t.script) ];
    expected = [ "box-systemd" { check = 5; timeout = 15; } { SupplementaryGroups = [ "systemd-journal" ]; } true ];
  }
  {
    name = "units: a watched unit starts one template on success and another on failure";
    expr =
      let
        u = lib.units {
          cfg = base;
          exe = "/agent/bin/nixcloud-monitoring";
          configFile = "/nix/store/cfg";
          watched = [ { id = "box-backup"; escaped = "box-backup"; unit = "restic-backups-daily.service"; } ];
        };
      in
      [
        u.services.restic-backups-daily
        u.services."nixcloud.monitoring-watch@".serviceConfig.ExecStart
        u.services."nixcloud.monitoring-watch-failure@".serviceConfig.SupplementaryGroups
      ];
    expected = [
      {
        onSuccess = [ "nixcloud.monitoring-watch@box-backup.service" ];
        onFailure = [ "nixcloud.monitoring-watch-failure@box-backup.service" ];
      }
      "/agent/bin/nixcloud-monitoring --config /etc/nixcloud-monitoring/config.toml report-unit %i"
      [ "systemd-journal" ]
    ];
  }
  {
    name = "units: nothing watched, no template";
    expr = builtins.attrNames (lib.units { cfg = base; exe = "/a"; configFile = "/c"; }).services;
    expected = [ "nixcloud.monitoring-flush" "nixcloud.monitoring-register" ];
  }
]
