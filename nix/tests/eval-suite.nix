# What eval-module.sh checks with the real nixpkgs lib, in one evaluation:
# the seed example, the assertion scenarios, daemon mode, the per-target
# `public` default and nix/package.nix. Evaluates to "ok" or throws the list
# of problems; the human-readable report goes to stderr through
# builtins.trace.
{ lib }:
let
  run = targets: import ./eval-module.nix { inherit lib targets; };
  runWith = postfix: targets: import ./eval-module.nix { inherit lib targets postfix; };
  names = lib.attrNames;

  seed = run "seed";
  daemon = run "daemon";
  private = run "private";
  sixteen = run 16; # every kind twice
  auto = run "auto";
  auto2505 = runWith "25.05" "auto";
  autoOff = run "auto-off";
  autoNginxOff = run "auto-nginx-off";
  prom = run "prometheus";
  notify = run "notify";
  calendar = run "calendar";
  notifyMore = run "notify-more";
  passiveOf = r: id: lib.findFirst (t: "${t.host}-${t.name}" == id) null r.config.targets.passive;
  promAlone = run "prometheus-no-exporter";

  ids = kind: map (t: "${t.host}-${t.name}") (auto.config.targets.active.${kind} or [ ]);
  origins = r: kind: map (t: t.origin or null) (r.config.targets.active.${kind} or [ ]);
  byId = kind: id: lib.findFirst (t: "${t.host}-${t.name}" == id) null auto.config.targets.active.${kind};
  # An automatic target renders like an explicit one with nothing set but
  # the given keys (compared with the generated targets, which set only host).
  likeExplicit =
    kind: id: own:
    let
      mine = byId kind id;
      theirs = builtins.head sixteen.config.targets.active.${kind};
    in
    mine != null
    && builtins.removeAttrs mine ([ "origin" "host" ] ++ own) == builtins.removeAttrs theirs ([ "host" ] ++ own);

  # scenario -> a piece of text its (single) failed assertion must contain
  expectedFailures = {
    duplicates = "kotalla.de-HTTP (check_http, check_http)";
    collision = ''"a:b-x" and "a_b-x" -> a_b-x'';
    families = "example.net-PING (check_ping)";
    timers = "db.example.org-backup: check = 60, timeout = 60";
    nokey = "no API key";
    calendar-and-check = "web1-both";
    both-backend-keys = "set either backend or backends, not both";
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
      ok =
        names seed.timers == [
          "nixcloud.monitoring-flush"
          "nixcloud.monitoring-register"
          "nixcloud.monitoring-register-on-switch"
        ];
    }
    {
      what = "calendar: the script's timer is OnCalendar with Persistent; the watched unit takes its timer's calendar";
      ok =
        let
          timer = calendar.timers."nixcloud.monitoring-passive-result-web1-report".timerConfig;
          report = passiveOf calendar "web1-report";
          nightly = passiveOf calendar "web1-nightly";
        in
        calendar.failedAssertions == [ ]
        && timer.OnCalendar == [ "Mon..Fri 18:00" "Sat 12:00" ]
        && timer.Persistent
        && !(timer ? OnUnitActiveSec)
        && report.timers == { calendar = [ "Mon..Fri 18:00" "Sat 12:00" ]; }
        && report.failureThreshold == 2
        && nightly.timers == { calendar = [ "*-*-* 02:30" ]; }
        && nightly.failureThreshold == 3;
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
      what = "seed: the on-switch register timer restarts when the config changes";
      ok = seed.timers."nixcloud.monitoring-register-on-switch".restartTriggers != [ ];
    }
    {
      what = "seed: state and spool directories";
      ok = builtins.length seed.tmpfiles == 2 && lib.hasInfix "spool 2770" (builtins.elemAt seed.tmpfiles 1);
    }
    {
      what = "notify (README's quick start): the channel rendered without unset keys, the sendmail default, the script's own threshold, no notify table where nothing is set; an override by id on the watched unit";
      ok =
        notify.failedAssertions == [ ]
        && notify.warnings == [ ]
        && notify.config.backends == [ "local" "notify" ]
        && notify.config.notify.channels.mail == {
          type = "sendmail";
          to = [ "admin@example.org" ];
          command = "/run/wrappers/bin/sendmail";
        }
        && (passiveOf notify "web1-disk").failureThreshold == 2
        && !((passiveOf notify "web1-disk") ? notify)
        && !((passiveOf notify "web1-backup") ? notify)
        && (passiveOf notifyMore "web1-backup").notify == { repeat = 1440; };
    }
    {
      what = "notify: its unit, timer and path (timers mode), the test unit, the token as a credential of every unit that takes results";
      ok =
        notify.paths."nixcloud.monitoring-notify".DirectoryNotEmpty == "/var/lib/nixcloud-monitoring/notify/due"
        && notify.timers."nixcloud.monitoring-notify".timerConfig.OnUnitInactiveSec == "1min"
        && notify.services."nixcloud.monitoring-notify-test".serviceConfig.ExecStart
          == "/nix/store/00000000000000000000000000000000-nixcloud-monitoring-0.1.0/bin/nixcloud-monitoring --config /etc/nixcloud-monitoring/config.toml notify --test"
        && lib.all (u: lib.elem "notify-phone-token:/run/keys/ntfy-token" (notifyMore.services.${u}.serviceConfig.LoadCredential or [ ])) [
          "nixcloud.monitoring-notify"
          "nixcloud.monitoring-flush"
          "nixcloud.monitoring-passive-result-web1-disk"
          "nixcloud.monitoring-watch@"
        ];
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
      what = "auto: no failed assertions, no new warning";
      ok = auto.failedAssertions == [ ] && auto.warnings == seed.warnings;
    }
    {
      what = "auto: check_http for public names (explicit kotalla.de wins, onlySSL/monitoring = false/localhost/_ left out)";
      ok =
        ids "check_http" == [
          "nixcloud.io-HTTP"
          "kotalla.de-HTTP"
          "example.org-HTTP"
          "www.example.org-HTTP"
        ]
        && origins auto "check_http" == [
          null
          null
          "auto: services.nginx.virtualHosts.example.org"
          "auto: services.nginx.virtualHosts.example.org"
        ];
    }
    {
      what = "auto: check_ssl_cert for TLS hosts (explicit example.org wins), warningDays 21";
      ok =
        ids "check_ssl_cert" == [
          "example.org-SSL"
          "nixcloud.io-SSL"
          "fractalide.com-SSL"
          "www.example.org-SSL"
          "secure.example.org-SSL"
        ]
        && (byId "check_ssl_cert" "example.org-SSL").warningDays == 1000
        && (byId "check_ssl_cert" "www.example.org-SSL").warningDays == 21;
    }
    {
      what = "auto: check_ssh per port and check_smtp with STARTTLS on networking.fqdnOrHostName";
      ok =
        ids "check_ssh" == [
          "web1.example.org-SSH"
          "web1.example.org-SSH-2222"
        ]
        && map (t: t.port) auto.config.targets.active.check_ssh == [ 22 2222 ]
        && ids "check_smtp" == [ "web1.example.org-SMTP" ]
        && (byId "check_smtp" "web1.example.org-SMTP").starttls
        && origins auto "check_smtp" == [ "auto: services.postfix" ];
    }
    {
      what = "auto: automatic targets render like explicit ones (same keys and defaults, plus origin)";
      ok =
        likeExplicit "check_http" "www.example.org-HTTP" [ ]
        && likeExplicit "check_ssl_cert" "www.example.org-SSL" [ "warningDays" ]
        && likeExplicit "check_ssh" "web1.example.org-SSH" [ ]
        && likeExplicit "check_ssh" "web1.example.org-SSH-2222" [ "name" "port" ]
        && likeExplicit "check_smtp" "web1.example.org-SMTP" [ "starttls" ];
    }
    {
      what = "auto: postfix of NixOS 24.11/25.05 (sslCert) gets STARTTLS too";
      ok =
        auto2505.failedAssertions == [ ]
        && map (t: t.starttls) auto2505.config.targets.active.check_smtp == [ true ];
    }
    {
      what = "auto.enable = false: the config file is the seed example's";
      ok = autoOff.config == seed.config;
    }
    {
      what = "auto.nginx.enable = false: only openssh and postfix add targets";
      ok =
        autoNginxOff.config.targets.active.check_http == seed.config.targets.active.check_http
        && autoNginxOff.config.targets.active.check_ssl_cert == seed.config.targets.active.check_ssl_cert
        && builtins.length autoNginxOff.config.targets.active.check_ssh == 2;
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
      what = "prometheus backend + node exporter: textfile collector wired, directory, units may write it";
      ok =
        prom.failedAssertions == [ ]
        && prom.config.backends == [ "nixcloud" "prometheus" ]
        && prom.config.prometheus == { textfile = "/var/lib/nixcloud-monitoring-textfile/nixcloud-monitoring.prom"; }
        && prom.nodeExporter.enabledCollectors == [ "textfile" ]
        && prom.nodeExporter.extraFlags == [ "--collector.textfile.directory=/var/lib/nixcloud-monitoring-textfile" ]
        && lib.elem "d /var/lib/nixcloud-monitoring-textfile 2750 nixcloud-monitoring node-exporter - -" prom.tmpfiles
        && lib.all (s: s.serviceConfig.ReadWritePaths == [ "/var/lib/nixcloud-monitoring-textfile" ]) (
          lib.attrValues (lib.filterAttrs (n: _: lib.hasPrefix "nixcloud.monitoring" n) prom.services)
        )
        && map (j: j.job_name) prom.prometheus.scrapeConfigs == [
          "nixcloud-monitoring-web1-check_http"
          "nixcloud-monitoring-web1-check_ssl_cert"
        ];
    }
    {
      what = "prometheus backend without a node exporter: agent's default textfile, a warning, nothing wired";
      ok =
        promAlone.failedAssertions == [ ]
        && promAlone.config.backend == "prometheus"
        && !(promAlone.config ? prometheus)
        && promAlone.nodeExporter.extraFlags == [ ]
        && lib.any (lib.hasInfix "which no collector reads") promAlone.warnings
        && !(lib.any (lib.hasInfix "textfile") promAlone.tmpfiles);
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
