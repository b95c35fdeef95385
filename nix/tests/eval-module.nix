# Evaluates module.nix with the real nixpkgs `lib` (lib.evalModules) and the
# stand-ins of stubs.nix, and returns what the module produced, fully forced.
#
#   nix-instantiate --eval --strict --json nix/tests/eval-module.nix \
#     --arg lib 'import /path/to/nixpkgs.lib/lib' --argstr targets seed
#
# targets:
#   "seed"        examples/configuration.nix (the 2018 README's example)
#   <N> (an int)  N generated targets over all 7 active kinds and passive
#   "duplicates" | "families" | "timers" | "nokey" | "collision"
#                 configs that must fail; the result lists the messages
#   "daemon"      the seed example in mode = "daemon"
#   "private"     the seed example with public = false (every target follows)
#   "auto"        the seed example on a machine with nginx virtual hosts,
#                 openssh and postfix: the automatic targets
#   "auto-off"    the same with nixcloud.monitoring.auto.enable = false
#   "auto-nginx-off"  the same with only auto.nginx.enable = false
#   "notify"      examples/notify.nix (README's quick start)
#   "notify-more" the same with an ntfy channel and an override by id
#
# postfix: "25.11" (default) or "25.05", the NixOS release whose postfix
# options the stand-ins declare (nix/tests/stubs.nix).
#
# nixpkgs.lib is not part of this repository; eval-module.sh takes its path.
{
  lib,
  targets ? "seed",
  postfix ? "25.11",
}:
let
  stubs = import ./stubs.nix { inherit lib postfix; };

  # N targets, cycling through the kinds; every second passive one has a script.
  generated =
    n:
    let
      kinds = [
        "check_http"
        "check_ssl_cert"
        "check_dns"
        "check_ping"
        "check_smtp"
        "check_ssh"
        "check_hydra"
        "passive"
      ];
      pick = i: builtins.elemAt kinds (lib.mod i (builtins.length kinds));
      host = i: "host${toString i}.example.org";
      target =
        i:
        let
          kind = pick i;
        in
        if kind == "passive" then
          {
            host = host i;
            name = "check${toString i}";
            timers.check = 5;
            timers.timeout = 15;
          }
          // lib.optionalAttrs (lib.mod i 16 == 7) { script = "exit=0; status=ok; perfdata="; }
        else if kind == "check_hydra" then
          {
            host = "https://hydra${toString i}.example.org";
            project = "p${toString i}";
            jobset = "trunk";
          }
        else
          { host = host i; };
      all = builtins.genList target n;
      ofKind = kind: lib.filter (t: t != null) (lib.imap0 (i: t: if pick i == kind then t else null) all);
    in
    {
      imports = [ ../../module.nix ];
      nixcloud.monitoring = {
        enable = true;
        apiKeyFile = "/run/keys/nixcloud-monitoring";
        targets.active = lib.genAttrs (lib.remove "passive" kinds) ofKind;
        targets.passive = ofKind "passive";
      };
    };

  seed = ../../examples/configuration.nix;

  scenarios = {
    duplicates = {
      imports = [ seed ];
      # a second module adding targets: the lists merge, and these collide
      nixcloud.monitoring.targets.active.check_http = [ { host = "kotalla.de"; } ];
      nixcloud.monitoring.targets.passive = [
        {
          host = "mail.lastlog.de";
          name = "sometest";
        }
      ];
    };
    collision = {
      imports = [ seed ];
      nixcloud.monitoring.targets.passive = [
        { host = "a:b"; name = "x"; }
        { host = "a_b"; name = "x"; }
      ];
    };
    families = {
      imports = [ seed ];
      nixcloud.monitoring.targets.active.check_ping = [
        {
          host = "example.net";
          ipv4 = false;
          ipv6 = false;
        }
      ];
    };
    timers = {
      imports = [ seed ];
      nixcloud.monitoring.targets.passive = [
        {
          host = "db.example.org";
          name = "backup";
          timers = {
            check = 60;
            timeout = 60;
          };
        }
      ];
    };
    # A scripted calendar target, and a watched unit without a timeout that
    # follows its own timer (defined by another module: the module reads
    # config.systemd.timers while it defines timers of its own).
    calendar = {
      imports = [ seed ];
      networking.hostName = "web1";
      nixcloud.monitoring.targets.passive = [
        {
          host = "web1";
          name = "report";
          script = "exit=0; status=ok";
          timers.calendar = [ "Mon..Fri 18:00" "Sat 12:00" ];
          failureThreshold = 2;
        }
      ];
      nixcloud.monitoring.watch.nightly = {
        unit = "nightly.service";
        failureThreshold = 3;
      };
      systemd.timers.nightly.timerConfig.OnCalendar = "*-*-* 02:30";
    };
    calendar-and-check = {
      imports = [ seed ];
      nixcloud.monitoring.targets.passive = [
        {
          host = "web1";
          name = "both";
          timers = {
            calendar = "daily";
            check = 60;
          };
        }
      ];
    };
    nokey = {
      imports = [ seed ];
      nixcloud.monitoring.apiKey = lib.mkForce null;
    };
    daemon = {
      imports = [ seed ];
      nixcloud.monitoring.mode = "daemon";
    };
    private = {
      imports = [ seed ];
      nixcloud.monitoring.public = false;
    };
    auto = autoMachine;
    # README's quick start: local + notify by mail (msmtp), a watched backup,
    # a disk script with its own threshold.
    notify = {
      imports = [ ../../examples/notify.nix ];
      networking.hostName = "web1";
    };
    # The same with an ntfy channel and its token, and an override by id for
    # the watched unit.
    notify-more = {
      imports = [ ../../examples/notify.nix ];
      networking.hostName = "web1";
      nixcloud.monitoring.notify.channels.phone = {
        type = "ntfy";
        topic = "web1-alerts";
        tokenFile = "/run/keys/ntfy-token";
      };
      nixcloud.monitoring.notify.targets."web1-backup".repeat = 1440;
    };
    # The seed example with the prometheus backend next to nixcloud, on a
    # machine with a node exporter (nix/prometheus.nix wires its textfile
    # collector).
    prometheus = {
      imports = [ seed ];
      networking.hostName = "web1";
      nixcloud.monitoring.backends = [
        "nixcloud"
        "prometheus"
      ];
      services.prometheus.exporters.node.enable = true;
    };
    prometheus-no-exporter = {
      imports = [ seed ];
      nixcloud.monitoring.backends = [ "prometheus" ];
    };
    both-backend-keys = {
      imports = [ seed ];
      nixcloud.monitoring.backend = "local";
      nixcloud.monitoring.backends = [ "prometheus" ];
    };
    auto-off = {
      imports = [ autoMachine ];
      nixcloud.monitoring.auto.enable = false;
    };
    auto-nginx-off = {
      imports = [ autoMachine ];
      nixcloud.monitoring.auto.nginx.enable = false;
    };
  };

  # The seed example on a web and mail server. Its explicit targets
  # kotalla.de-HTTP and example.org-SSL win over the automatic ones.
  autoMachine = {
    imports = [ seed ];
    networking.hostName = "web1";
    networking.domain = "example.org";
    services.nginx.enable = true;
    services.nginx.virtualHosts = {
      "example.org" = {
        forceSSL = true;
        enableACME = true;
        serverAliases = [ "www.example.org" ];
      };
      "secure.example.org".onlySSL = true;
      "quiet.example.org".monitoring = false;
      "kotalla.de" = { };
      localhost = { };
      "_" = {
        default = true;
        addSSL = true;
      };
    };
    services.openssh.enable = true;
    services.openssh.ports = [
      22
      2222
    ];
    services.postfix =
      {
        enable = true;
      }
      // (
        if postfix == "25.11" then
          {
            settings.main.smtpd_tls_chain_files = [
              "/var/lib/acme/web1.example.org/key.pem"
              "/var/lib/acme/web1.example.org/fullchain.pem"
            ];
          }
        else
          { sslCert = "/var/lib/acme/web1.example.org/cert.pem"; }
      );
  };

  userModule =
    if builtins.isInt targets then
      generated targets
    else if targets == "seed" then
      seed
    else
      scenarios.${targets} or (throw "eval-module.nix: unknown targets = ${builtins.toJSON targets}");

  eval = lib.evalModules {
    modules = [
      stubs.module
      userModule
    ];
    specialArgs.pkgs = stubs.pkgs;
  };

  inherit (eval) config;
  etc = config.environment.etc."nixcloud-monitoring/config.toml";
  failed = map (a: a.message) (lib.filter (a: !a.assertion) config.assertions);
  commandsDrv = lib.findFirst (p: p.name == "nixcloud-monitoring-commands") null config.environment.systemPackages;
  commandNames =
    if commandsDrv == null then
      [ ]
    else
      map (l: lib.removePrefix "chmod 0555 \"$out/bin/" (lib.removeSuffix "\"" l)) (
        lib.filter (lib.hasPrefix "chmod 0555") (lib.splitString "\n" commandsDrv.buildCommand)
      );

  summary = {
    failedAssertions = failed;
    inherit (config) warnings;
  }
  // lib.optionalAttrs (failed == [ ]) {
    config = etc.source.value;
    services = lib.mapAttrs (_: s: {
      inherit (s) path restartTriggers wantedBy after;
      inherit (s) serviceConfig;
    }) config.systemd.services;
    timers = lib.mapAttrs (_: t: { inherit (t) timerConfig restartTriggers wantedBy; }) config.systemd.timers;
    paths = lib.mapAttrs (_: p: p.pathConfig) config.systemd.paths;
    inherit commandNames;
    tmpfiles = config.systemd.tmpfiles.rules;
    nodeExporter = config.services.prometheus.exporters.node;
    prometheus = {
      inherit (config.nixcloud.monitoring.prometheus) rules scrapeConfigs blackboxModules;
    };
    users = config.users.users;
    etcFiles = lib.attrNames config.environment.etc;
    counts = {
      services = builtins.length (lib.attrNames config.systemd.services);
      timers = builtins.length (lib.attrNames config.systemd.timers);
      commands = builtins.length commandNames;
      renderedActive = lib.foldl' (n: l: n + builtins.length l) 0 (
        lib.attrValues (etc.source.value.targets.active or { })
      );
      renderedPassive = builtins.length (etc.source.value.targets.passive or [ ]);
    };
  };
in
summary
