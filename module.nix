# NixOS module of nixcloud-monitoring: `nixcloud.monitoring = { ... }`.
#
#   imports = [ ./nixcloud-monitoring/module.nix ];
#
# Options are declared in nix/options.nix (targets in nix/targets.nix). The
# work is done by pure helpers in nix/ (rendering the config file, naming
# units, assertions), which CI tests without nixpkgs; this file only wires
# their results into NixOS. README.md ("NixOS") describes what appears on the
# system.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.nixcloud.monitoring;
  helpers = import ./nix/lib.nix;
  inherit (helpers) names;

  configFile = (pkgs.formats.toml { }).generate "nixcloud-monitoring.toml" (helpers.renderConfig cfg);

  units = helpers.units {
    inherit cfg configFile;
    exe = "${cfg.package}/bin/nixcloud-monitoring";
    basePath = map (name: pkgs.${name}) names.scriptTools;
  };

  # All passive-target commands in one package (see nix/units.nix).
  commandsPackage = pkgs.runCommandLocal "nixcloud-monitoring-commands" { } (
    units.commandsBuildScript pkgs.runtimeShell
  );
in
{
  imports = [ ./nix/options.nix ];

  config = lib.mkIf cfg.enable {
    assertions = helpers.assertions cfg;
    warnings = helpers.warnings cfg;

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
