# NixOS module of nixcloud-monitoring: `nixcloud.monitoring = { ... }`.
#
#   imports = [ ./nixcloud-monitoring/module.nix ];
#
# Options are declared in nix/options.nix (targets in nix/targets.nix); the
# `auto` options, which never reach the config file, and the per-virtual-host
# `monitoring` switch are declared here. The work is done by pure helpers in
# nix/ (automatic targets, rendering the config file, naming units,
# assertions), which CI tests without nixpkgs; this file only wires their
# results into NixOS. README.md ("NixOS") describes what appears on the
# system.
{
  config,
  options,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types literalExpression;

  declared = config.nixcloud.monitoring;
  helpers = import ./nix/lib.nix;
  inherit (helpers) names;

  # What the services declare, as plain data for nix/auto.nix. Only read
  # when the service's switch is on and the service is enabled (auto.nix
  # decides; everything here is lazy).
  nginx = config.services.nginx;
  postfix = config.services.postfix;
  services = {
    nginx = {
      inherit (nginx) enable;
      virtualHosts = lib.mapAttrs (_: v: {
        inherit (v)
          serverName
          serverAliases
          forceSSL
          onlySSL
          addSSL
          enableACME
          useACMEHost
          monitoring
          ;
      }) nginx.virtualHosts;
    };
    openssh = {
      inherit (config.services.openssh) enable ports;
    };
    postfix = {
      inherit (postfix) enable enableSmtp;
    }
    # NixOS 25.11 has main.cf as services.postfix.settings.main (sslCert is
    # gone: reading it throws); 24.11/25.05 as services.postfix.config, into
    # which sslCert also puts smtpd_tls_security_level = "may".
    // (
      if options.services.postfix ? settings then
        { main = postfix.settings.main; }
      else
        {
          main = postfix.config;
          inherit (postfix) sslCert;
        }
    );
  };

  # The options with the automatic targets added: everything below (config
  # file, units, assertions) sees them like explicit ones.
  cfg = helpers.auto.apply declared (
    services
    // {
      auto = declared.auto;
    }
  );

  configFile = (pkgs.formats.toml { }).generate "nixcloud-monitoring.toml" (helpers.renderConfig cfg);

  # Watched units and the failed-units check (nix/watch.nix).
  watch = import ./nix/watch.nix {
    inherit cfg;
    inherit (config.networking) hostName;
    restic = config.services.restic.backups or { };
    borgbackup = config.services.borgbackup.jobs or { };
    # A watched X.service runs on X.timer's calendar (startAt makes one too).
    timers = config.systemd.timers;
  };

  units = helpers.units {
    inherit cfg configFile;
    inherit (watch) watched;
    exe = "${cfg.package}/bin/nixcloud-monitoring";
    basePath = map (name: pkgs.${name}) names.scriptTools;
    # The prometheus backend's textfile directory (nix/prometheus.nix) and the
    # page's (nix/page.nix).
    writablePaths = helpers.prometheus.writablePaths cfg ++ helpers.page.writablePaths cfg;
  };

  # Both `backend` and `backends` given (not by their defaults): the agent
  # refuses that, so the module does too.
  bothBackendKeys =
    let
      o = options.nixcloud.monitoring;
    in
    o.backend.highestPrio < 1500 && o.backends.highestPrio < 1500;

  # All passive-target commands in one package (see nix/units.nix).
  commandsPackage = pkgs.runCommandLocal "nixcloud-monitoring-commands" { } (
    units.commandsBuildScript pkgs.runtimeShell
  );
in
{
  options.nixcloud.monitoring.auto =
    let
      service =
        name: what:
        mkOption {
          type = types.bool;
          default = declared.auto.enable;
          defaultText = literalExpression "config.nixcloud.monitoring.auto.enable";
          description = "Whether `services.${name}` brings its own targets: ${what}.";
        };
    in
    {
      enable = mkOption {
        type = types.bool;
        default = true;
        description = ''
          Whether the services this machine declares bring their own targets:
          nginx's virtual hosts, openssh and postfix (each has its own switch
          below, defaulting to this one). An explicit target with the same
          `<host>-<name>` wins over an automatic one.
        '';
      };
      host = mkOption {
        type = types.str;
        default = config.networking.fqdnOrHostName;
        defaultText = literalExpression "config.networking.fqdnOrHostName";
        example = "mail.example.org";
        description = "Host name of the automatic openssh and postfix targets.";
      };
      failureThreshold = mkOption {
        type = types.nullOr (types.ints.between 1 (import ./nix/notify-limits.nix).maxThreshold);
        default = null;
        example = 3;
        description = ''
          `failureThreshold` of every automatic target: failed checks in a row
          before it counts as failing (null: `nixcloud.monitoring.failureThreshold`).
        '';
      };
      nginx = {
        enable = service "nginx" "check_http and, for TLS hosts, check_ssl_cert for every public name of every virtual host";
        warningDays = mkOption {
          type = types.int;
          default = helpers.auto.defaultWarningDays;
          description = ''
            `warningDays` of the automatic check_ssl_cert targets. NixOS's ACME
            renews certificates 30 days before they expire; at 21 days a
            failing renewal has had nine days of retries before the warning.
          '';
        };
      };
      openssh.enable = service "openssh" "check_ssh on every port of services.openssh.ports";
      postfix.enable = service "postfix" "check_smtp on port 25, with STARTTLS when TLS is configured";
    };

  # Adds `monitoring` to nginx's own virtual-host submodule (the declarations
  # merge): `services.nginx.virtualHosts.<name>.monitoring = false` keeps a
  # host out of the automatic targets.
  options.services.nginx.virtualHosts = mkOption {
    type = types.attrsOf (
      types.submodule {
        options.monitoring = mkOption {
          type = types.bool;
          default = true;
          description = ''
            Whether nixcloud.monitoring gives this virtual host automatic
            targets (see `nixcloud.monitoring.auto.nginx.enable`).
          '';
        };
      }
    );
  };

  imports = [
    ./nix/options.nix
    ./nix/watch-options.nix
    # prometheus.* for the Prometheus machine, the node exporter's textfile
    # collector; gets the targets including the automatic ones.
    (helpers.prometheus.module cfg)
    # page.group and page.nginx.*: the page's directory and its nginx location.
    helpers.page.module
  ];

  config = lib.mkIf cfg.enable {
    assertions =
      helpers.assertions cfg
      ++ helpers.notify.assertions cfg
      ++ watch.assertions
      ++ [
        {
          assertion = !bothBackendKeys;
          message = "nixcloud.monitoring: set either backend or backends, not both (backends = [ ... ] for several).";
        }
      ];
    nixcloud.monitoring.targets.passive = watch.targets;
    warnings =
      helpers.warnings cfg
      ++ helpers.notify.warnings cfg
      ++ lib.optional (
        helpers.uses cfg "prometheus"
        && !(config.services.prometheus.exporters.node.enable or false)
        && cfg.prometheus.textfile == null
      ) "nixcloud.monitoring: the prometheus backend writes ${names.stateDir}/prometheus/nixcloud-monitoring.prom, which no collector reads: enable services.prometheus.exporters.node (the module then points its textfile collector at the agent's file) or set nixcloud.monitoring.prometheus.textfile.";

    users.users.${names.user} = {
      isSystemUser = true;
      group = names.group;
      home = names.stateDir;
      description = "nixcloud.monitoring agent";
    };
    users.groups.${names.group} = { };

    environment.etc.${names.etcName}.source = configFile;

    environment.systemPackages = [
      cfg.package
    ] ++ lib.optional (units.commands != [ ]) commandsPackage;

    systemd.tmpfiles.rules = units.tmpfilesRules;

    systemd.services = units.services;
    systemd.timers = units.timers;
    systemd.paths = units.paths;
  };
}
