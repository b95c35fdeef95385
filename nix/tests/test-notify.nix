# The notify destination in the module (nix/notify.nix, and what render.nix and
# units.nix do with it), without nixpkgs.
let
  lib = import ../lib.nix;
  f = import ./fixtures.nix;
  inherit (lib) notify renderConfig;

  inherit (f) channel;

  backup = f.passive {
    host = "web1";
    name = "backup";
  };
  disk = f.passive {
    host = "web1";
    name = "disk";
    failureThreshold = 2;
    notify = {
      enable = null;
      successThreshold = 3;
      recovery = null;
      repeat = null;
    };
  };

  withNotify =
    extra:
    f.base
    // {
      backends = [
        "local"
        "notify"
      ];
      notify = f.base.notify // {
        channels = {
          mail = channel {
            type = "sendmail";
            to = [ "admin@example.org" ];
            command = "/run/wrappers/bin/sendmail";
          };
          relay = channel {
            type = "smtp";
            host = "127.0.0.1";
            tls = "none";
            to = [ "ops@example.org" ];
            user = "monitor";
            passwordFile = "/run/keys/smtp";
          };
          hook = channel {
            type = "webhook";
            urlFile = "/run/keys/slack";
            format = "slack";
            tokenFile = "/run/keys/hook-token";
          };
        };
        targets = { };
      }
      // extra;
      targets = f.base.targets // {
        passive = [
          backup
          disk
        ];
      };
    };

  cfg = withNotify { };
  overridden = withNotify {
    targets."web1-backup" = {
      failureThreshold = 4;
      enable = false;
      successThreshold = null;
      recovery = null;
      repeat = 60;
    };
    targets."web1-disk" = {
      failureThreshold = null;
      enable = null;
      successThreshold = null;
      recovery = false;
      repeat = null;
    };
  };
  rendered = renderConfig cfg;
  passiveOf = c: map (t: builtins.removeAttrs t [ "host" "public" "script" "tags" "timers" ]) (renderConfig c).targets.passive;

  mk =
    c:
    lib.units {
      cfg = c;
      exe = "/agent/bin/nixcloud-monitoring";
      configFile = "/nix/store/cfg.toml";
    };
  timers = mk cfg;
  daemon = mk (cfg // { mode = "daemon"; });
  plain = mk f.base;
  failing = c: map (a: a.message) (builtins.filter (a: !a.assertion) (notify.assertions c));
in
[
  {
    name = "[notify] holds the defaults and each channel without its unset keys";
    expr = rendered.notify;
    expected = {
      successThreshold = 1;
      recovery = true;
      repeat = 0;
      window = 30;
      channels = {
        mail = {
          type = "sendmail";
          to = [ "admin@example.org" ];
          command = "/run/wrappers/bin/sendmail";
        };
        relay = {
          type = "smtp";
          host = "127.0.0.1";
          tls = "none";
          to = [ "ops@example.org" ];
          user = "monitor";
          passwordFile = "/run/keys/smtp";
        };
        hook = {
          type = "webhook";
          urlFile = "/run/keys/slack";
          format = "slack";
          tokenFile = "/run/keys/hook-token";
        };
      };
    };
  }
  {
    name = "no [notify] table unless notify is a backend";
    expr = (renderConfig (cfg // { backends = [ "local" ]; })) ? notify;
    expected = false;
  }
  {
    name = "a target's own failureThreshold and notify keys, unset ones left out";
    expr = passiveOf cfg;
    expected = [
      {
        name = "backup";
      }
      {
        name = "disk";
        failureThreshold = 2;
        notify.successThreshold = 3;
      }
    ];
  }
  {
    name = "notify.targets.<id> wins over the target's own keys and adds to them";
    expr = passiveOf overridden;
    expected = [
      {
        name = "backup";
        failureThreshold = 4;
        notify = {
          enable = false;
          repeat = 60;
        };
      }
      {
        name = "disk";
        failureThreshold = 2;
        notify = {
          successThreshold = 3;
          recovery = false;
        };
      }
    ];
  }
  {
    name = "the channels' secrets are credentials named notify-<channel>-<what>";
    expr = notify.credentials cfg;
    expected = [
      "notify-hook-token:/run/keys/hook-token"
      "notify-hook-url:/run/keys/slack"
      "notify-relay-password:/run/keys/smtp"
    ];
  }
  {
    name = "every unit that takes results gets them; none without notify";
    expr = [
      (builtins.elem "notify-relay-password:/run/keys/smtp" timers.services."nixcloud.monitoring-flush".serviceConfig.LoadCredential)
      (builtins.elem "notify-relay-password:/run/keys/smtp" timers.services."nixcloud.monitoring-notify".serviceConfig.LoadCredential)
      (plain.services."nixcloud.monitoring-flush".serviceConfig ? LoadCredential)
    ];
    expected = [
      true
      true
      false
    ];
  }
  {
    name = "timers mode: the notify unit, its minute timer, its path unit on notify/due; the test unit";
    expr = {
      exec = timers.services."nixcloud.monitoring-notify".serviceConfig.ExecStart;
      timeout = timers.services."nixcloud.monitoring-notify".serviceConfig.TimeoutStartSec;
      startLimit = timers.services."nixcloud.monitoring-notify".unitConfig.StartLimitIntervalSec;
      timer = timers.timers."nixcloud.monitoring-notify".timerConfig;
      path = timers.paths."nixcloud.monitoring-notify";
      test = timers.services."nixcloud.monitoring-notify-test".serviceConfig.ExecStart;
      hardened = timers.services."nixcloud.monitoring-notify".serviceConfig.NoNewPrivileges;
    };
    expected = {
      exec = "/agent/bin/nixcloud-monitoring --config /etc/nixcloud-monitoring/config.toml notify";
      timeout = "infinity";
      startLimit = 0;
      timer = {
        OnBootSec = "1min";
        OnUnitInactiveSec = "1min";
        AccuracySec = "5s";
      };
      path = {
        description = "nixcloud.monitoring: send notices held for their window";
        wantedBy = [ "paths.target" ];
        pathConfig = {
          DirectoryNotEmpty = "/var/lib/nixcloud-monitoring/notify/due";
          Unit = "nixcloud.monitoring-notify.service";
        };
      };
      test = "/agent/bin/nixcloud-monitoring --config /etc/nixcloud-monitoring/config.toml notify --test";
      hardened = true;
    };
  }
  {
    name = "daemon mode: the daemon sends notices itself; only the test unit is added";
    expr = [
      (builtins.attrNames daemon.services)
      (daemon.timers ? "nixcloud.monitoring-notify")
    ];
    expected = [
      [
        "nixcloud.monitoring"
        "nixcloud.monitoring-notify-test"
      ]
      false
    ];
  }
  {
    name = "the notify directories exist before any unit ran, only with notify";
    expr = [
      (builtins.filter (r: builtins.match ".*/notify.*" r != null) timers.tmpfilesRules)
      (builtins.filter (r: builtins.match ".*/notify.*" r != null) plain.tmpfilesRules)
    ];
    expected = [
      [
        "d /var/lib/nixcloud-monitoring/notify 0750 nixcloud-monitoring nixcloud-monitoring - -"
        "d /var/lib/nixcloud-monitoring/notify/due 0750 nixcloud-monitoring nixcloud-monitoring - -"
      ]
      [ ]
    ];
  }
  {
    name = "assertions: notify without channels, a bad channel name, a mail channel without to, an unknown id";
    expr = [
      (failing cfg)
      (failing (withNotify { channels = { }; }))
      (failing (withNotify { channels."a b" = channel { type = "ntfy"; topic = "t"; }; }))
      (failing (withNotify { channels.m = channel { type = "sendmail"; }; }))
      (failing (withNotify { targets."web1-nope" = { }; }))
    ];
    expected = [
      [ ]
      [ ''nixcloud.monitoring: "notify" is among the backends but nixcloud.monitoring.notify.channels is empty; add one, e.g. notify.channels.mail = { type = "sendmail"; to = [ "you@example.org" ]; }.'' ]
      [ "nixcloud.monitoring.notify.channels: names may only hold A-Z a-z 0-9 _ - (at most 64): a b" ]
      [ "nixcloud.monitoring.notify.channels: these mail channels have no `to` address: m" ]
      [ "nixcloud.monitoring.notify.targets: no passive target has the id web1-nope (ids are <host>-<name>; watched units use networking.hostName as host)" ]
    ];
  }
  {
    name = "a warning when channels are set but notify is no backend";
    expr = [
      (notify.warnings (cfg // { backends = [ "local" ]; }))
      (notify.warnings cfg)
    ];
    expected = [
      [ "nixcloud.monitoring.notify.channels is set but \"notify\" is not among nixcloud.monitoring.backends: no notices are sent." ]
      [ ]
    ];
  }
]
