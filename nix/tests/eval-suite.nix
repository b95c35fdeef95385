# What eval-module.sh checks with the real nixpkgs lib, in one evaluation:
# the seed example, the assertion scenarios, daemon mode, the per-target
# `public` default and nix/package.nix. Evaluates to "ok" or throws the list
# of problems; the human-readable report goes to stderr through
# builtins.trace.
{ lib }:
let
  run = targets: import ./eval-module.nix { inherit lib targets; };
  names = lib.attrNames;

  seed = run "seed";
  daemon = run "daemon";
  private = run "private";
  sixteen = run 16; # every kind twice

  # scenario -> a piece of text its (single) failed assertion must contain
  expectedFailures = {
    duplicates = "kotalla.de-HTTP (check_http, check_http)";
    collision = ''"a:b-x" and "a_b-x" -> a_b-x'';
    families = "example.net-PING (check_ping)";
    timers = "db.example.org-backup: check = 60, timeout = 60";
    nokey = "no API key";
  };
  scenarioResults = lib.mapAttrs (scenario: needle: {
    inherit needle;
    messages = (run scenario).failedAssertions;
  }) expectedFailures;

  package = import ../package.nix {
    inherit lib;
    rustPlatform.buildRustPackage = args: args;
  };
  cargoVersion = (builtins.fromTOML (builtins.readFile ../../Cargo.toml)).package.version;

  # flake.nix's outputs with a stand-in nixpkgs: only their shape is checked
  # here (the checks themselves need the real nixpkgs).
  fakePkgs = {
    callPackage = _fn: _args: "agent";
    stdenv.hostPlatform.system = "x86_64-linux";
  };
  flake = (import ../../flake.nix).outputs {
    self = flake;
    nixpkgs = {
      inherit lib;
      legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] (_: fakePkgs);
    };
  };

  checks = [
    {
      what = "seed: no failed assertions";
      ok = seed.failedAssertions == [ ];
    }
    {
      what = "seed: one warning, about apiKey";
      ok = builtins.length seed.warnings == 1 && lib.hasInfix "apiKeyFile" (builtins.head seed.warnings);
    }
    {
      what = "seed: services";
      ok = names seed.services == [ "nixcloud.monitoring-flush" "nixcloud.monitoring-register" ];
    }
    {
      what = "seed: timers";
      ok = names seed.timers == [ "nixcloud.monitoring-flush" "nixcloud.monitoring-register" ];
    }
    {
      what = "seed: path unit";
      ok = names seed.paths == [ "nixcloud.monitoring-flush" ];
    }
    {
      what = "seed: command";
      ok = seed.commandNames == [ "nixcloud.monitoring-passive-result-mail.lastlog.de-sometest" ];
    }
    {
      what = "seed: rendered targets (3 ssl, 2 http, 1 passive)";
      ok =
        map builtins.length [
          seed.config.targets.active.check_ssl_cert
          seed.config.targets.active.check_http
          seed.config.targets.passive
        ] == [ 3 2 1 ];
    }
    {
      what = "seed: defaults filled in (HTTP name, port 80, SSL timeout 15)";
      ok =
        (builtins.head seed.config.targets.active.check_http).name == "HTTP"
        && (builtins.head seed.config.targets.active.check_http).port == 80
        && (builtins.head seed.config.targets.active.check_ssl_cert).timeout == 15;
    }
    {
      what = "seed: register timer restarts when the config changes";
      ok = seed.timers."nixcloud.monitoring-register".restartTriggers != [ ];
    }
    {
      what = "seed: state and spool directories";
      ok = builtins.length seed.tmpfiles == 2 && lib.hasInfix "spool 2770" (builtins.elemAt seed.tmpfiles 1);
    }
    {
      what = "daemon: one service, no timers or path units, command kept";
      ok =
        names daemon.services == [ "nixcloud.monitoring" ]
        && daemon.timers == { }
        && daemon.paths == { }
        && daemon.commandNames == seed.commandNames
        && daemon.services."nixcloud.monitoring".serviceConfig.Type == "notify";
    }
    {
      what = "generated: every kind present, hydra name defaults to <project>_<jobset>";
      ok =
        names sixteen.config.targets.active == [
          "check_dns"
          "check_http"
          "check_hydra"
          "check_ping"
          "check_smtp"
          "check_ssh"
          "check_ssl_cert"
        ]
        && map (t: t.name) sixteen.config.targets.active.check_hydra == [ "p6_trunk" "p14_trunk" ];
    }
    {
      what = "public = false is every target's default";
      ok = lib.all (t: t.public == false) (
        lib.concatLists (lib.attrValues private.config.targets.active) ++ private.config.targets.passive
      );
    }
    {
      what = "flake: packages, nixosModules, overlays and checks";
      ok =
        flake.packages.x86_64-linux.default == "agent"
        && flake.nixosModules.default == ../../module.nix
        && (flake.overlays.default fakePkgs { }).nixcloud-monitoring == "agent"
        && names flake.checks.aarch64-linux == [ "example-evaluates" "nix-tests" "package" "vm" ];
    }
    {
      what = "package.nix: name and version from Cargo.toml";
      ok =
        package.pname == "nixcloud-monitoring"
        && package.version == cargoVersion
        && package.meta.mainProgram == "nixcloud-monitoring"
        && builtins.pathExists package.cargoLock.lockFile;
    }
  ]
  ++ lib.mapAttrsToList (scenario: r: {
    what = "assertion fires: ${scenario}";
    ok = builtins.length r.messages == 1 && lib.hasInfix r.needle (builtins.head r.messages);
  }) scenarioResults;

  problems = map (c: c.what) (lib.filter (c: !c.ok) checks);

  report = lib.concatStringsSep "\n" (
    [
      "=== seed example (examples/configuration.nix)"
      "services: ${toString (names seed.services)}"
      "timers:   ${toString (names seed.timers)}"
      "paths:    ${toString (names seed.paths)}"
      "commands: ${toString seed.commandNames}"
      "config.toml as JSON: ${builtins.toJSON seed.config}"
      "warnings:"
    ]
    ++ seed.warnings
    ++ [ "" "=== assertions (each scenario adds one mistake to the seed example)" ]
    ++ lib.concatLists (
      lib.mapAttrsToList (scenario: r: [ "--- ${scenario}:" ] ++ r.messages) scenarioResults
    )
    ++ [
      ""
      "=== daemon mode: services: ${toString (names daemon.services)}"
      ""
      "=== checks"
    ]
    ++ map (c: "${if c.ok then "ok  " else "FAIL"} ${c.what}") checks
  );
in
builtins.trace report (
  if problems == [ ] then "ok" else throw "eval-suite: failed: ${lib.concatStringsSep "; " problems}"
)
