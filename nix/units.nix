# systemd units and wrapper commands for an evaluated `nixcloud.monitoring`
# config, as plain attrsets in the shape of NixOS' systemd.services/timers/
# paths options. Pure (builtins only) so the tests can check names and
# settings without nixpkgs; module.nix assigns the result.
#
# Arguments:
#   cfg        the evaluated config.nixcloud.monitoring
#   exe        path of the agent binary ("${cfg.package}/bin/nixcloud-monitoring")
#   configFile the generated config.toml (store path); changes to it restart
#              the register timer / the daemon on `nixos-rebuild switch`
#   basePath   packages every unit that may run a passive script gets on PATH
#              (module.nix passes the packages named in names.scriptTools;
#              NixOS adds coreutils, findutils, grep, sed and systemd itself)
let
  names = import ./names.nix;
  inventory = import ./inventory.nix;
  hardening = import ./hardening.nix;
  util = import ./util.nix;
  inherit (util) concatMap optional mergeAll;
  inherit (import ./escape.nix) printable;
  inherit (builtins) concatStringsSep listToAttrs;
in
{
  cfg,
  exe,
  configFile,
  basePath ? [ ],
  # [ { id; escaped; unit; } ] from nix/watch.nix: units whose every run is reported.
  watched ? [ ],
  # Directories outside the state directory every unit may write (ReadWritePaths=
  # under ProtectSystem=strict): the prometheus backend's textfile directory
  # (nix/prometheus.nix, wired by module.nix).
  writablePaths ? [ ],
}:
let
  command = args: "${exe} --config ${names.configPath} ${args}";

  inherit (import ./render.nix) uses;
  notify = import ./notify.nix;
  talksToNixcloud = uses cfg "nixcloud";
  notifies = notify.uses cfg;

  # LoadCredential= entries. Only what the backend in use needs: a missing
  # credential file makes the unit fail, so a key left configured while
  # trying backend = "local" must not break it.
  globalCredentials =
    optional (talksToNixcloud && cfg.apiKeyFile != null) "${names.apiKeyCredential}:${cfg.apiKeyFile}"
    ++ optional (
      uses cfg "icinga2" && cfg.icinga2.passwordFile != null
    ) "${names.icinga2PasswordCredential}:${cfg.icinga2.passwordFile}"
    ++ optional (
      uses cfg "healthchecks" && (cfg.healthchecks.apiKeyFile or null) != null
    ) "${names.healthchecksApiKeyCredential}:${cfg.healthchecks.apiKeyFile}"
    # Every unit that accepts a result may send its notice at once.
    ++ notify.credentials cfg;

  targetCredentials =
    entry:
    optional (
      talksToNixcloud && entry.target.apiKeyFile != null
    ) "${names.targetApiKeyCredential entry.escaped}:${entry.target.apiKeyFile}";

  allCredentials = globalCredentials ++ concatMap targetCredentials (inventory.allTargets cfg);

  withCredentials = creds: if creds == [ ] then { } else { LoadCredential = creds; };

  # What every unit shares: the user, the state directory, the sandbox.
  baseServiceConfig = hardening // {
    User = names.user;
    Group = names.group;
    StateDirectory = names.stateDirectoryName;
    StateDirectoryMode = "0750";
  }
  // (if writablePaths == [ ] then { } else { ReadWritePaths = writablePaths; });

  networkService = {
    after = [ "network-online.target" ];
    wants = [ "network-online.target" ];
  };

  # Exit 3 means "the server could not take it now; it is queued (or the
  # registration is retried)": nothing was lost, so the unit has not failed.
  # Without this, one server outage marks the oneshots `failed` on every
  # monitored machine at once and `is-system-running` says `degraded`. The
  # agent logs a warning for it; `nixcloud-monitoring status` shows the backlog.
  queuedIsSuccess = {
    SuccessExitStatus = 3;
  };

  # The oneshots that talk to the server with every credential: register,
  # flush, the watch reports.
  serverOneshot =
    settings:
    baseServiceConfig
    // withCredentials allCredentials
    // queuedIsSuccess
    // {
      Type = "oneshot";
    }
    // settings;

  passive = inventory.scriptedTargets cfg;

  # Scripts run by `run <id>` (timers mode) or by the daemon.
  scriptPath = entries: basePath ++ concatMap (e: e.target.path or [ ]) entries;

  # Seconds the agent lets a script run (docs/config.md: scriptTimeout,
  # default timers.check * 60); systemd's own timeout is a backstop above it,
  # leaving time to deliver or queue the result.
  # A calendar target's default comes from its calendar, which only the agent
  # computes: no backstop then (null).
  scriptTimeout =
    t:
    if (t.scriptTimeout or null) != null then
      t.scriptTimeout
    else if inventory.calendarOf t != null then
      null
    else
      inventory.checkMinutes t * 60;

  # ---- timers mode -------------------------------------------------------

  # `register --retry`: a round the server could not take (5xx, unreachable,
  # timeout) is tried again after a minute, then at most every 5 minutes,
  # inside this run, which re-reads the config each time. The unit is then
  # "activating" for the length of an outage (no start timeout): a timer that
  # fires meanwhile finds it running and adds nothing. A refusal (4xx, a wrong
  # key) ends the run at once and fails the unit, as it should. The unit has
  # no restartTriggers: switch-to-configuration would restart an activating
  # unit and wait for it, so a switch during an outage would hang; the retry
  # loop picks up the new config by itself.
  registerService = networkService // {
    description = "nixcloud.monitoring: register all monitoring targets";
    documentation = [ "https://github.com/nixcloud/nixcloud-monitoring" ];
    serviceConfig = serverOneshot {
      ExecStart = command "register --retry";
      TimeoutStartSec = "infinity";
    };
  };

  # Two timers start the register service:
  #
  # registerTimer repeats it every 24 h, which keeps the server from
  # garbage-collecting the targets. Its randomized delay spreads a fleet's
  # daily registrations so they do not hit the server at once.
  #
  # registerOnSwitchTimer fires 10 s after it is (re)started, without any
  # random delay: at boot (timers.target starts it), on the switch that first
  # adds the module, and on every switch that changes the config, since
  # `restartTriggers = [ configFile ]` puts the config's store path into the
  # timer's unit file (X-Restart-Triggers=) and switch-to-configuration
  # restarts active units whose file changed (an elapsed timer is active). A
  # switch that does not touch monitoring leaves it alone. The server thus
  # knows about added and removed targets within about 15 s of a switch
  # (proven by tests/system). Starting the oneshot service from the switch
  # itself (wantedBy multi-user.target) would make every switch wait for the
  # network and the server.
  registerTimer = {
    description = "nixcloud.monitoring: re-register all targets every 24 h";
    wantedBy = [ "timers.target" ];
    timerConfig = {
      OnUnitActiveSec = "24h";
      RandomizedDelaySec = "5min";
    };
  };

  registerOnSwitchTimer = {
    description = "nixcloud.monitoring: register all targets at boot and after a config change";
    wantedBy = [ "timers.target" ];
    restartTriggers = [ configFile ];
    timerConfig = {
      OnActiveSec = "10s";
      AccuracySec = "1s";
      Unit = "${names.registerUnit}.service";
    };
  };

  resultService =
    entry:
    networkService
    // {
      description = "nixcloud.monitoring: run the passive check ${printable entry.id} and send its result";
      path = scriptPath [ entry ];
      serviceConfig =
        baseServiceConfig
        // withCredentials (globalCredentials ++ targetCredentials entry)
        // queuedIsSuccess
        // {
          Type = "oneshot";
          ExecStart = command "run ${entry.escaped}";
          TimeoutStartSec =
            let
              seconds = scriptTimeout entry.target;
            in
            if seconds == null then "infinity" else "${toString (seconds + 300)}s";
        }
        // (entry.target.serviceConfig or { });
    };

  resultTimer =
    entry: if inventory.calendarOf entry.target != null then calendarTimer entry else intervalTimer entry;

  # On the target's calendar, as systemd reads it; Persistent: a run missed
  # while the machine was off (or the timer stopped) happens at boot. No
  # random delay: the calendar says when.
  calendarTimer = entry: {
    description = "nixcloud.monitoring: passive check ${printable entry.id} on ${printable (builtins.concatStringsSep "; " (inventory.calendarOf entry.target))}";
    wantedBy = [ "timers.target" ];
    timerConfig = {
      OnCalendar = inventory.calendarOf entry.target;
      Persistent = true;
      AccuracySec = "1s";
    };
  };

  intervalTimer =
    entry:
    let
      minutes = inventory.checkMinutes entry.target;
      # A tenth of the interval, at most a minute: spreads the load without
      # letting short intervals drift into the timeout.
      jitter = if minutes * 6 < 60 then minutes * 6 else 60;
    in
    {
      description = "nixcloud.monitoring: passive check ${printable entry.id} every ${toString minutes} min";
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnBootSec = "2min";
        OnUnitActiveSec = "${toString minutes}min";
        RandomizedDelaySec = "${toString jitter}s";
        AccuracySec = "1s";
      };
    };

  flushService = networkService // {
    description = "nixcloud.monitoring: deliver queued and spooled results";
    # The path unit starts this whenever the spool is not empty; a burst of
    # results from group members would otherwise hit systemd's default start
    # limit (5 starts in 10 s), fail the unit and stop the path unit for
    # good. A start is cheap and each run takes everything waiting, so starts
    # are not counted.
    unitConfig.StartLimitIntervalSec = 0;
    serviceConfig = serverOneshot {
      ExecStart = command "flush";
      TimeoutStartSec = "15min";
    };
  };

  # After an outage the queue is delivered within 5 minutes.
  flushTimer = {
    description = "nixcloud.monitoring: retry undelivered results every 5 min";
    wantedBy = [ "timers.target" ];
    timerConfig = {
      OnBootSec = "5min";
      OnUnitActiveSec = "5min";
    };
  };

  # Group members who cannot read the API key drop results into the spool;
  # this moves them on at once. `flush` always empties the spool (into the
  # queue when the server is unreachable), so the path unit cannot loop.
  flushPath = {
    description = "nixcloud.monitoring: deliver results dropped into the spool";
    wantedBy = [ "paths.target" ];
    # The path unit has a trigger limit of its own (systemd >= 250: 200 in
    # 2 s); a flush run lasts milliseconds, so a burst stays far below it.
    pathConfig = {
      DirectoryNotEmpty = names.spoolDir;
      Unit = "${names.flushUnit}.service";
    };
  };

  # ---- notify (timers mode) -----------------------------------------------

  # `nixcloud-monitoring notify`: what a channel has due goes out, "no
  # result" for silent targets, reminders, silences that ended; it stays while
  # a notice is held for its window or a channel cannot take it yet (with
  # growing pauses, at most 5 min), then exits. No start timeout: like the
  # register unit it may wait out a mail server's outage; a timer or path that
  # fires meanwhile finds it running. A start is cheap, so starts are not
  # counted (the path unit starts it on every held notice).
  notifyService = networkService // {
    description = "nixcloud.monitoring: send due notices";
    unitConfig.StartLimitIntervalSec = 0;
    serviceConfig = serverOneshot {
      ExecStart = command "notify";
      TimeoutStartSec = "infinity";
    };
  };

  # Every minute: a target silent past its timers.timeout gets its "no
  # result" notice within a minute, whether or not any unit runs.
  notifyTimer = {
    description = "nixcloud.monitoring: look for due notices every minute";
    wantedBy = [ "timers.target" ];
    timerConfig = {
      OnBootSec = "1min";
      OnUnitInactiveSec = "1min";
      AccuracySec = "5s";
    };
  };

  # A unit that held a notice for the grouping window (or could not send it)
  # marks its channel in notify/due/; this starts the notify unit at once, so
  # the notice goes out when the window ends, not a minute later.
  notifyPath = {
    description = "nixcloud.monitoring: send notices held for their window";
    wantedBy = [ "paths.target" ];
    pathConfig = {
      DirectoryNotEmpty = names.notifyDueDir;
      Unit = "${names.notifyUnit}.service";
    };
  };

  # `systemctl start nixcloud.monitoring-notify-test`: a test notice through
  # every channel, from the same sandbox and with the same credentials as
  # every notice (both modes).
  notifyTestService = networkService // {
    description = "nixcloud.monitoring: send a test notice through every channel";
    serviceConfig = serverOneshot {
      ExecStart = command "notify --test";
      TimeoutStartSec = "5min";
    };
  };

  notifyTimersMode =
    if notifies then
      {
        services.${names.notifyUnit} = notifyService;
        timers.${names.notifyUnit} = notifyTimer;
        paths.${names.notifyUnit} = notifyPath;
      }
    else
      {
        services = { };
        timers = { };
        paths = { };
      };

  timersMode = {
    services = {
      ${names.registerUnit} = registerService;
      ${names.flushUnit} = flushService;
    }
    // notifyTimersMode.services
    // listToAttrs (
      map (e: {
        name = names.passiveResultUnit e.escaped;
        value = resultService e;
      }) passive
    );
    timers = {
      ${names.registerUnit} = registerTimer;
      ${names.registerOnSwitchUnit} = registerOnSwitchTimer;
      ${names.flushUnit} = flushTimer;
    }
    // notifyTimersMode.timers
    // listToAttrs (
      map (e: {
        name = names.passiveResultUnit e.escaped;
        value = resultTimer e;
      }) passive
    );
    paths = {
      ${names.flushUnit} = flushPath;
    }
    // notifyTimersMode.paths;
  };

  # ---- daemon mode -------------------------------------------------------

  # One long-running agent instead of all the units above. It runs every
  # passive script itself, so it gets the union of their PATHs and their
  # serviceConfig loosening (later targets win for the same key).
  daemonService = networkService // {
    description = "nixcloud.monitoring agent";
    documentation = [ "https://github.com/nixcloud/nixcloud-monitoring" ];
    wantedBy = [ "multi-user.target" ];
    restartTriggers = [ configFile ];
    path = scriptPath passive;
    serviceConfig =
      baseServiceConfig
      // withCredentials allCredentials
      // {
        Type = "notify";
        NotifyAccess = "main";
        ExecStart = command "daemon";
        # `systemctl reload`: SIGHUP makes the daemon read the config file
        # again (RELOADING=1, then READY=1), keep its queue, register the new
        # set at once and rebuild the script schedule; a config that does not
        # load is logged and the old one stays in force. The command must not
        # depend on a PATH: systemd resolves a bare name (`kill`) only in its
        # compile-time search path, which nixpkgs' systemd sets to systemd's
        # own bin/ (no kill there), and this file is pure (no pkgs for a
        # coreutils kill). /bin/sh exists on NixOS (environment.binsh) as on
        # any systemd system, kill is its builtin, and systemd hands
        # ExecReload= the daemon's pid as $MAINPID. (Type = "notify-reload"
        # would have systemd send the signal itself, but needs systemd 253.)
        ExecReload = "/bin/sh -c 'kill -HUP $MAINPID'";
        WatchdogSec = 60;
        Restart = "on-failure";
        RestartSec = "10s";
      }
      // mergeAll (map (e: e.target.serviceConfig or { }) passive);
  };

  daemonMode = {
    services.${names.daemonUnit} = daemonService;
    timers = { };
    paths = { };
  };

  # ---- watched units (both modes) ----------------------------------------

  # Started by a watched unit's OnSuccess= (…-watch@<escaped id>) or
  # OnFailure= (…-watch-failure@<escaped id>); systemd passes the run in
  # MONITOR_* variables. Two templates, because systemd passes nothing when one
  # unit is both a unit's OnSuccess= and its OnFailure= ("multiple trigger
  # source candidates", seen in the system test). Sandboxed like the others;
  # the journal group lets it read that run's log lines, `systemctl show` (the
  # run time) needs nothing more.
  watchService = networkService // {
    description = "nixcloud.monitoring: report how a watched unit's run ended (%i)";
    serviceConfig = serverOneshot {
      ExecStart = command "report-unit %i";
      SupplementaryGroups = [ "systemd-journal" ];
      TimeoutStartSec = "5min";
    };
  };

  watchServices =
    if watched == [ ] then
      { }
    else
      {
        "${names.watchUnit}@" = watchService;
        "${names.watchFailureUnit}@" = watchService;
      }
      // listToAttrs (
        map (w: {
          name = builtins.substring 0 (builtins.stringLength w.unit - 8) w.unit;
          value = {
            onSuccess = [ "${names.watchUnit}@${w.escaped}.service" ];
            onFailure = [ "${names.watchFailureUnit}@${w.escaped}.service" ];
          };
        }) watched
      );

  # ---- commands (both modes) ---------------------------------------------

  commands = map (e: rec {
    inherit (e) id escaped;
    name = names.passiveCommand e.escaped;
    # The agent checks the arguments (three, state 0..3) and prints the usage.
    # Escaped ids contain only A-Z a-z 0-9 . _ - so they need no quoting. `--`
    # ends the options: an OUTPUT such as "-v" is text, not the agent's flag.
    text = ''exec ${exe} --config ${names.configPath} submit -- ${e.escaped} "$@"'';
  }) (inventory.passiveTargets cfg);

  # One derivation holds all commands (bin/<name>): a thousand targets make one
  # small build, not a thousand. Used as the build script of runCommand.
  commandsBuildScript =
    shell:
    concatStringsSep "\n" (
      [ ''mkdir -p "$out/bin"'' ]
      ++ map (c: ''
        cat > "$out/bin/${c.name}" <<'NIXCLOUD_MONITORING_EOF'
        #!${shell}
        ${c.text}
        NIXCLOUD_MONITORING_EOF
        chmod 0555 "$out/bin/${c.name}"'') commands
    )
    + "\n";
  # The state directory also exists for wrapper commands run before any unit
  # has started; the spool is where group members who cannot read the API key
  # leave results (setgid, so the agent's group owns them).
  tmpfilesRules = [
    "d ${names.stateDir} 0750 ${names.user} ${names.group} - -"
    "d ${names.spoolDir} 2770 ${names.user} ${names.group} - -"
  ]
  # The directory the notify path unit watches exists before any unit ran.
  ++ optional notifies "d ${names.stateDir}/notify 0750 ${names.user} ${names.group} - -"
  ++ optional notifies "d ${names.notifyDueDir} 0750 ${names.user} ${names.group} - -";

  mode = if cfg.mode == "daemon" then daemonMode else timersMode;
in
mode
// {
  services =
    mode.services
    // watchServices
    // (if notifies then { ${names.notifyTestUnit} = notifyTestService; } else { });
  inherit commands commandsBuildScript tmpfilesRules;
  credentials = allCredentials;
}
