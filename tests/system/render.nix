# What NixOS would install for an evaluated `nixcloud.monitoring` config, as
# files for a Debian tree booted by systemd-nspawn (tests/system/run.sh).
#
# The units come from the module's own nix/units.nix; this file renders them
# the way NixOS's nixos/lib/systemd-lib.nix and nixos/modules/system/boot/
# systemd.nix do, and nothing more:
#   * `[Unit]` from description, documentation, after, wants, restartTriggers
#     (X-Restart-Triggers=) and unitConfig; a description must be one line
#     (NixOS's type check), so a bad one stops evaluation here as there;
#   * each serviceConfig/timerConfig/pathConfig key in attribute order, a list
#     as one line per element, true/false for booleans;
#   * `path` plus NixOS's own defaults (coreutils, findutils, gnugrep, gnused,
#     systemd) as the only PATH, in Environment="PATH=<each>/bin:<each>/sbin";
#   * wantedBy as a symlink in <target>.wants/.
# Store paths are fake names; run.sh fills each with the programs of the
# Debian package that stands for it (storePackages) and nothing else.
#
#   nix-instantiate --eval --strict --json tests/system/render.nix \
#     --argstr apiHost http://127.0.0.1:PORT --argstr docScripts /abs/scripts.json --argstr variant v1
{
  apiHost,
  docScripts,
  variant,
  smtpPort ? "0",
}:
let
  helpers = import ../../nix/lib.nix;
  inherit (helpers) names;
  inherit (builtins)
    attrNames
    concatLists
    concatStringsSep
    isList
    hashString
    substring
    toJSON
    ;

  storePath = name: "/nix/store/${substring 0 32 (hashString "sha256" name)}-${name}";

  # nixpkgs attribute -> the Debian packages whose programs it holds here.
  storePackages = {
    bash = [ "bash" ];
    coreutils = [ "coreutils" ];
    findutils = [ "findutils" ];
    gnugrep = [ "grep" ];
    gnused = [ "sed" ];
    systemd = [ "systemd" ];
    gawk = [ "gawk" ];
    procps = [ "procps" ];
    util-linux = [ "util-linux" "mount" ];
    iproute2 = [ "iproute2" ];
    iputils = [ "iputils-ping" ];
    # README's backup example needs restic; run.sh puts a stand-in there that
    # lists one snapshot, as `restic snapshots --json` does.
    restic = [ ];
  };
  pkg = name: storePath name;

  configs = import ./configs.nix {
    inherit apiHost docScripts pkg;
    smtpPort = builtins.fromJSON smtpPort;
  };
  # What module.nix does: the watch targets join targets.passive.
  watch = import ../../nix/watch.nix {
    cfg = configs.${variant};
    hostName = "nixcloud-test";
  };
  cfg = configs.${variant} // {
    targets = configs.${variant}.targets // {
      passive = configs.${variant}.targets.passive ++ watch.targets;
    };
  };

  # What NixOS appends to every service's `path` (systemd.nix).
  nixosDefaultPath = map pkg [ "coreutils" "findutils" "gnugrep" "gnused" "systemd" ];

  agent = "${storePath "nixcloud-monitoring-0.1.0"}";
  # A store path named by its content, as pkgs.formats.toml's would be: a
  # changed config changes X-Restart-Triggers= and so the unit file.
  configText = topLevelToml (helpers.renderConfig cfg);
  configFile = storePath "nixcloud-monitoring.toml-${substring 0 12 (hashString "sha256" configText)}";

  units = helpers.units {
    inherit cfg configFile;
    exe = "${agent}/bin/nixcloud-monitoring";
    basePath = map pkg names.scriptTools;
    inherit (watch) watched;
    # What module.nix adds for the prometheus and page backends (nix/prometheus.nix,
    # nix/page.nix).
    writablePaths = helpers.prometheus.writablePaths cfg ++ helpers.page.writablePaths cfg;
  };
  # With the node exporter on, its textfile directory (NixOS's exporter group is
  # node-exporter).
  usesPrometheus = builtins.elem "prometheus" (cfg.backends or [ cfg.backend ]);

  # The admin's services, with what the module adds to them (OnSuccess=/OnFailure=), as the
  # NixOS module system merges two definitions of one service.
  services =
    units.services
    // builtins.mapAttrs (name: def: def // (units.services.${name} or { })) configs.services;

  toOption =
    x:
    if x == true then
      "true"
    else if x == false then
      "false"
    else
      toString x;

  attrsToSection =
    as:
    concatStringsSep "" (
      concatLists (
        map (name: map (x: "${name}=${toOption x}\n") (if isList as.${name} then as.${name} else [ as.${name} ])) (
          attrNames as
        )
      )
    );

  singleLine =
    unit: d:
    if builtins.match "[^\n\r]*" d == null then
      throw "A definition for option `systemd.units.${unit}.description' is not of type `singleLineStr'."
    else
      d;

  unitSection =
    unit: def:
    let
      orEmpty = key: list: if (def.${list} or [ ]) == [ ] then { } else { ${key} = toString def.${list}; };
    in
    "[Unit]\n"
    + attrsToSection (
      { Description = singleLine unit def.description; }
      // orEmpty "Documentation" "documentation"
      // orEmpty "After" "after"
      // orEmpty "Wants" "wants"
      // orEmpty "OnSuccess" "onSuccess"
      // orEmpty "OnFailure" "onFailure"
      // (
        if (def.restartTriggers or [ ]) == [ ] then
          { }
        else
          { X-Restart-Triggers = toString def.restartTriggers; }
      )
      // (def.unitConfig or { })
    );

  makeBinPath = dirs: concatStringsSep ":" (map (d: "${d}/bin") dirs);
  makeSbinPath = dirs: concatStringsSep ":" (map (d: "${d}/sbin") dirs);

  serviceText =
    unit: def:
    let
      path = (def.path or [ ]) ++ nixosDefaultPath;
    in
    unitSection unit def
    + "\n[Service]\n"
    + "Environment=${toJSON "PATH=${makeBinPath path}:${makeSbinPath path}"}\n"
    + attrsToSection def.serviceConfig;

  sectionText =
    section: key: unit: def:
    unitSection unit def + "\n[${section}]\n" + attrsToSection def.${key};

  render =
    suffix: text: set:
    map (name: {
      file = "${name}.${suffix}";
      text = text "${name}.${suffix}" set.${name};
      wantedBy = set.${name}.wantedBy or [ ];
    }) (attrNames set);

  unitFiles =
    render "service" serviceText services
    ++ render "timer" (sectionText "Timer" "timerConfig") units.timers
    ++ render "path" (sectionText "Path" "pathConfig") units.paths;

  # TOML without a TOML library: JSON strings are TOML basic strings, and
  # every table is written inline, so one line holds the whole config.
  toml =
    v:
    if builtins.isAttrs v then
      "{ " + concatStringsSep ", " (map (k: "${toJSON k} = ${toml v.${k}}") (attrNames v)) + " }"
    else if isList v then
      "[ " + concatStringsSep ", " (map toml v) + " ]"
    else
      toJSON v;
  topLevelToml =
    v: concatStringsSep "" (map (k: "${toJSON k} = ${toml v.${k}}\n") (attrNames v));
in
{
  inherit agent configFile unitFiles;
  tmpfilesRules =
    units.tmpfilesRules
    ++ (if usesPrometheus then helpers.prometheus.tmpfilesRules "node-exporter" else [ ])
    # The page's directory with the web server's group (cases.sh makes a user nginx).
    ++ (
      if helpers.page.dirOf cfg != null then
        helpers.page.tmpfilesRules (helpers.page.dirOf cfg) "nginx"
      else
        [ ]
    );
  commandsBuildScript = units.commandsBuildScript "${pkg "bash"}/bin/bash";
  config = configText;
  configPath = names.configPath;
  bash = "${pkg "bash"}/bin/bash";
  store = map (name: {
    path = pkg name;
    debs = storePackages.${name};
  }) (attrNames storePackages);
}
