# Units, credentials and commands (nix/units.nix, nix/names.nix).
let
  lib = import ../lib.nix;
  inherit (lib) names hardening;
  f = import ./fixtures.nix;

  mk =
    cfg:
    lib.units {
      inherit cfg;
      exe = "/agent/bin/nixcloud-monitoring";
      configFile = "/nix/store/cfg-nixcloud-monitoring.toml";
      basePath = [ "/nix/store/bash" ];
    };
  seed = mk f.seed;
  scripted = mk f.scripted;
  daemon = mk (f.scripted // { mode = "daemon"; });

  names' = set: builtins.attrNames set;
  backup = scripted.services."nixcloud.monitoring-passive-result-db.example.org-backup";
  ping = scripted.services."nixcloud.monitoring-passive-result-2001_db8__1-PING";
  register = scripted.services."nixcloud.monitoring-register";
  has = needle: haystack: builtins.match ".*${needle}.*" haystack != null;
in
[
  {
    name = "unit names";
    expr = [
      names.registerUnit
      names.flushUnit
      names.daemonUnit
      (names.passiveResultUnit "mail.lastlog.de-sometest")
      (names.passiveCommand "2001_db8__1-PING")
      (names.targetApiKeyCredential "db.example.org-backup")
    ];
    expected = [
      "nixcloud.monitoring-register"
      "nixcloud.monitoring-flush"
      "nixcloud.monitoring"
      "nixcloud.monitoring-passive-result-mail.lastlog.de-sometest"
      "nixcloud.monitoring-passive-result-2001_db8__1-PING"
      "api-key-db.example.org-backup"
    ];
  }
  {
    name = "seed (no scripts): register and flush only";
    expr = [
      (names' seed.services)
      (names' seed.timers)
      (names' seed.paths)
    ];
    expected = [
      [ "nixcloud.monitoring-flush" "nixcloud.monitoring-register" ]
      [ "nixcloud.monitoring-flush" "nixcloud.monitoring-register" "nixcloud.monitoring-register-on-switch" ]
      [ "nixcloud.monitoring-flush" ]
    ];
  }
  {
    name = "seed: one command per passive target, scripted or not";
    expr = map (c: c.name) seed.commands;
    expected = [ "nixcloud.monitoring-passive-result-mail.lastlog.de-sometest" ];
  }
  {
    name = "command text calls submit with the escaped id and passes all arguments";
    expr = map (c: c.text) scripted.commands;
    expected = [
      ''exec /agent/bin/nixcloud-monitoring --config /etc/nixcloud-monitoring/config.toml submit -- db.example.org-backup "$@"''
      ''exec /agent/bin/nixcloud-monitoring --config /etc/nixcloud-monitoring/config.toml submit -- 2001_db8__1-PING "$@"''
    ];
  }
  {
    name = "commands build script writes every command with a shebang";
    expr =
      let
        script = scripted.commandsBuildScript "/bin/sh";
      in
      [
        (has ''cat > "[$]out/bin/nixcloud.monitoring-passive-result-2001_db8__1-PING" <<'NIXCLOUD_MONITORING_EOF'
#!/bin/sh
exec /agent/bin/nixcloud-monitoring --config /etc/nixcloud-monitoring/config.toml submit -- 2001_db8__1-PING "[$]@"
NIXCLOUD_MONITORING_EOF
chmod 0555 "[$]out/bin/nixcloud.monitoring-passive-result-2001_db8__1-PING"'' script)
        (builtins.length (builtins.filter (l: l == "NIXCLOUD_MONITORING_EOF") (builtins.filter builtins.isString (builtins.split "\n" script))))
      ];
    expected = [ true 2 ];
  }
  {
    name = "scripted passive targets get a result service and timer each";
    expr = [
      (names' scripted.services)
      (names' scripted.timers)
    ];
    expected = [
      [
        "nixcloud.monitoring-flush"
        "nixcloud.monitoring-passive-result-2001_db8__1-PING"
        "nixcloud.monitoring-passive-result-db.example.org-backup"
        "nixcloud.monitoring-register"
      ]
      [
        "nixcloud.monitoring-flush"
        "nixcloud.monitoring-passive-result-2001_db8__1-PING"
        "nixcloud.monitoring-passive-result-db.example.org-backup"
        "nixcloud.monitoring-register"
        "nixcloud.monitoring-register-on-switch"
      ]
    ];
  }
  {
    name = "ExecStart of each command";
    expr = [
      register.serviceConfig.ExecStart
      backup.serviceConfig.ExecStart
      ping.serviceConfig.ExecStart
      scripted.services."nixcloud.monitoring-flush".serviceConfig.ExecStart
    ];
    expected = [
      "/agent/bin/nixcloud-monitoring --config /etc/nixcloud-monitoring/config.toml register --retry"
      "/agent/bin/nixcloud-monitoring --config /etc/nixcloud-monitoring/config.toml run db.example.org-backup"
      "/agent/bin/nixcloud-monitoring --config /etc/nixcloud-monitoring/config.toml run 2001_db8__1-PING"
      "/agent/bin/nixcloud-monitoring --config /etc/nixcloud-monitoring/config.toml flush"
    ];
  }
  {
    name = "credentials: all on register, own + global on a result unit";
    expr = [
      register.serviceConfig.LoadCredential
      backup.serviceConfig.LoadCredential
      ping.serviceConfig.LoadCredential
    ];
    expected = [
      [ "api-key:/run/keys/nixcloud" "api-key-db.example.org-backup:/run/keys/team-b" ]
      [ "api-key:/run/keys/nixcloud" "api-key-db.example.org-backup:/run/keys/team-b" ]
      [ "api-key:/run/keys/nixcloud" ]
    ];
  }
  {
    name = "inline apiKey and backend local: no LoadCredential";
    expr = [
      (seed.services."nixcloud.monitoring-register".serviceConfig ? LoadCredential)
      ((mk (f.scripted // { backend = "local"; })).services."nixcloud.monitoring-register".serviceConfig ? LoadCredential)
    ];
    expected = [ false false ];
  }
  {
    name = "icinga2 password credential";
    expr =
      (mk (
        f.scripted
        // {
          backend = "icinga2";
          icinga2 = f.base.icinga2 // { passwordFile = "/run/keys/icinga"; };
        }
      )).services."nixcloud.monitoring-register".serviceConfig.LoadCredential;
    expected = [ "icinga2-password:/run/keys/icinga" ];
  }
  {
    name = "every service is hardened and runs as the agent's user";
    expr = builtins.all (
      s:
      builtins.all (k: s.serviceConfig ? ${k}) (builtins.attrNames hardening)
      && s.serviceConfig.User == "nixcloud-monitoring"
      && s.serviceConfig.StateDirectory == "nixcloud-monitoring"
      && s.serviceConfig.UMask == "0007"
    ) (builtins.attrValues scripted.services ++ builtins.attrValues daemon.services);
    expected = true;
  }
  {
    name = "the sandbox keys have the sandbox's values, but for a target's own loosening";
    expr =
      let
        sandboxOf = s: builtins.intersectAttrs hardening s.serviceConfig;
      in
      map sandboxOf [
        register
        scripted.services."nixcloud.monitoring-flush"
        ping
        backup
        daemon.services."nixcloud.monitoring"
      ];
    expected = [
      hardening
      hardening
      hardening
      (hardening // { ProtectHome = "read-only"; })
      (hardening // { ProtectHome = "read-only"; })
    ];
  }
  {
    name = "hardening has the required keys";
    expr = [
      hardening.NoNewPrivileges
      hardening.ProtectSystem
      hardening.ProtectHome
      hardening.PrivateTmp
      hardening.CapabilityBoundingSet
      hardening.RestrictAddressFamilies
    ];
    expected = [ true "strict" true true "" [ "AF_UNIX" "AF_INET" "AF_INET6" ] ];
  }
  {
    name = "a passive target's serviceConfig replaces the default for its unit only";
    expr = [
      backup.serviceConfig.ProtectHome
      ping.serviceConfig.ProtectHome
      register.serviceConfig.ProtectHome
    ];
    expected = [ "read-only" true true ];
  }
  {
    name = "scripts get bash and the target's path";
    expr = [
      backup.path
      ping.path
    ];
    expected = [
      [ "/nix/store/bash" "/nix/store/fake-restic" ]
      [ "/nix/store/bash" ]
    ];
  }
  {
    name = "systemd timeout leaves 5 min after the script timeout";
    expr = [
      backup.serviceConfig.TimeoutStartSec
      ping.serviceConfig.TimeoutStartSec
    ];
    expected = [ "600s" "330s" ];
  }
  {
    name = "register timer: daily, randomized, not restarted by config changes";
    expr = scripted.timers."nixcloud.monitoring-register";
    expected = {
      description = "nixcloud.monitoring: re-register all targets every 24 h";
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnUnitActiveSec = "24h";
        RandomizedDelaySec = "5min";
      };
    };
  }
  {
    name = "register-on-switch timer: 10 s after boot or a config change, no random delay";
    expr = scripted.timers."nixcloud.monitoring-register-on-switch";
    expected = {
      description = "nixcloud.monitoring: register all targets at boot and after a config change";
      wantedBy = [ "timers.target" ];
      restartTriggers = [ "/nix/store/cfg-nixcloud-monitoring.toml" ];
      timerConfig = {
        OnActiveSec = "10s";
        AccuracySec = "1s";
        Unit = "nixcloud.monitoring-register.service";
      };
    };
  }
  {
    name = "register retries by itself during an outage, without a start timeout or restart trigger";
    expr = [
      register.serviceConfig.TimeoutStartSec
      (register ? restartTriggers)
    ];
    expected = [ "infinity" false ];
  }
  {
    name = "an outage (exit 3) does not fail the oneshots; the flush service has no start limit";
    expr = [
      register.serviceConfig.SuccessExitStatus
      backup.serviceConfig.SuccessExitStatus
      scripted.services."nixcloud.monitoring-flush".serviceConfig.SuccessExitStatus
      scripted.services."nixcloud.monitoring-flush".unitConfig.StartLimitIntervalSec
      (daemon.services."nixcloud.monitoring".serviceConfig ? SuccessExitStatus)
    ];
    expected = [ 3 3 3 0 false ];
  }
  {
    name = "a control character in an id reaches no unit description";
    expr =
      let
        bad = mk (
          f.base
          // {
            apiKeyFile = "/k";
            targets.active = f.noTargets;
            targets.passive = [ (f.passive { host = "a\nb"; name = "x\ty"; script = "exit=0"; }) ];
          }
        );
      in
      map (u: u.description) (builtins.attrValues bad.services ++ builtins.attrValues bad.timers);
    expected = [
      "nixcloud.monitoring: deliver queued and spooled results"
      "nixcloud.monitoring: run the passive check a_b-x_y and send its result"
      "nixcloud.monitoring: register all monitoring targets"
      "nixcloud.monitoring: retry undelivered results every 5 min"
      "nixcloud.monitoring: passive check a_b-x_y every 60 min"
      "nixcloud.monitoring: re-register all targets every 24 h"
      "nixcloud.monitoring: register all targets at boot and after a config change"
    ];
  }
  {
    name = "result timer every timers.check minutes, jitter a tenth up to 1 min";
    expr = [
      scripted.timers."nixcloud.monitoring-passive-result-db.example.org-backup".timerConfig
      scripted.timers."nixcloud.monitoring-passive-result-2001_db8__1-PING".timerConfig.RandomizedDelaySec
    ];
    expected = [
      {
        OnBootSec = "2min";
        OnUnitActiveSec = "5min";
        RandomizedDelaySec = "30s";
        AccuracySec = "1s";
      }
      "60s"
    ];
  }
  {
    name = "flush: path unit on the spool plus a 5 min timer";
    expr = [
      scripted.paths."nixcloud.monitoring-flush".pathConfig
      scripted.timers."nixcloud.monitoring-flush".timerConfig.OnUnitActiveSec
    ];
    expected = [
      {
        DirectoryNotEmpty = "/var/lib/nixcloud-monitoring/spool";
        Unit = "nixcloud.monitoring-flush.service";
      }
      "5min"
    ];
  }
  {
    name = "daemon mode: one notify service and nothing else";
    expr = [
      (names' daemon.services)
      daemon.timers
      daemon.paths
      (map (c: c.name) daemon.commands)
    ];
    expected = [
      [ "nixcloud.monitoring" ]
      { }
      { }
      [
        "nixcloud.monitoring-passive-result-db.example.org-backup"
        "nixcloud.monitoring-passive-result-2001_db8__1-PING"
      ]
    ];
  }
  {
    name = "daemon unit: systemctl reload sends SIGHUP without relying on a PATH";
    expr = [
      daemon.services."nixcloud.monitoring".serviceConfig.ExecReload
      (scripted.services."nixcloud.monitoring-register".serviceConfig ? ExecReload)
    ];
    expected = [
      "/bin/sh -c 'kill -HUP $MAINPID'"
      false
    ];
  }
  {
    name = "daemon unit settings";
    expr =
      let
        d = daemon.services."nixcloud.monitoring";
      in
      {
        inherit (d) wantedBy restartTriggers path;
        inherit (d.serviceConfig)
          Type
          ExecStart
          WatchdogSec
          NotifyAccess
          Restart
          ProtectHome
          LoadCredential
          ;
      };
    expected = {
      wantedBy = [ "multi-user.target" ];
      restartTriggers = [ "/nix/store/cfg-nixcloud-monitoring.toml" ];
      path = [ "/nix/store/bash" "/nix/store/fake-restic" ];
      Type = "notify";
      ExecStart = "/agent/bin/nixcloud-monitoring --config /etc/nixcloud-monitoring/config.toml daemon";
      WatchdogSec = 60;
      NotifyAccess = "main";
      Restart = "on-failure";
      ProtectHome = "read-only";
      LoadCredential = [ "api-key:/run/keys/nixcloud" "api-key-db.example.org-backup:/run/keys/team-b" ];
    };
  }
]
