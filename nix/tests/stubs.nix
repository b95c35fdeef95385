# Small stand-ins for the parts of NixOS and nixpkgs that module.nix touches,
# so the module can be evaluated with nothing but nixpkgs' `lib`
# (nix/tests/eval-module.nix). They declare only the options module.nix sets,
# with the real option names, so a misspelt one fails evaluation; the values
# are kept as they are for the test to inspect. The services module.nix reads
# (nginx, openssh, postfix, networking) are declared with the names, types
# and defaults of NixOS; `postfix` picks the NixOS release whose postfix
# options are copied: "25.11" (settings.main, smtpd_tls_chain_files) or
# "25.05" (sslCert and `config`, as in 24.11).
{
  lib,
  postfix ? "25.11",
}:
let
  inherit (lib) mkOption types;

  fakeDrv = name: extra: {
    type = "derivation";
    inherit name;
    outPath = "/nix/store/00000000000000000000000000000000-${name}";
    drvPath = "/nix/store/00000000000000000000000000000000-${name}.drv";
  } // extra;

  anyList = mkOption {
    type = types.listOf types.unspecified;
    default = [ ];
  };
  strList = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };
  anyAttrs = mkOption {
    type = types.attrsOf types.anything;
    default = { };
  };
  str = mkOption {
    type = types.str;
    default = "";
  };

  # The unit options of nixos/lib/systemd-unit-options.nix that the module
  # uses (a subset: anything else is an error here, as it would be there
  # only if misspelt).
  commonUnit = {
    description = str;
    documentation = strList;
    wantedBy = strList;
    after = strList;
    wants = strList;
    restartTriggers = anyList;
    unitConfig = anyAttrs;
    # What nix/units.nix gives a watched unit.
    onSuccess = strList;
    onFailure = strList;
  };
  unitType = extra: types.attrsOf (types.submodule { options = commonUnit // extra; });

  pkgs = {
    # pkgs.formats.toml: keeps the value so the test can read what would be
    # written; TOML itself has no null, so a null anywhere is an error here.
    formats.toml =
      { }:
      {
        type = types.attrsOf types.anything;
        generate =
          name: value:
          let
            noNulls =
              v:
              if v == null then
                throw "formats.toml stand-in: null value in ${name}"
              else if builtins.isAttrs v then
                builtins.all noNulls (builtins.attrValues v)
              else if builtins.isList v then
                builtins.all noNulls v
              else
                true;
          in
          assert noNulls value;
          fakeDrv name { inherit value; };
      };
    bash = fakeDrv "bash-5.2" { };
    gawk = fakeDrv "gawk-5.3" { };
    procps = fakeDrv "procps-4.0" { };
    util-linux = fakeDrv "util-linux-2.40" { };
    iproute2 = fakeDrv "iproute2-6.9" { };
    runtimeShell = "/nix/store/00000000000000000000000000000000-bash-5.2/bin/bash";
    runCommandLocal = name: _env: buildCommand: fakeDrv name { inherit buildCommand; };
    # Stands for the agent package; nix/package.nix is checked separately.
    callPackage = _fn: _args: fakeDrv "nixcloud-monitoring-0.1.0" { };
  };
  # nixos/modules/services/web-servers/nginx/vhost-options.nix (the options
  # module.nix reads, plus `default`).
  vhostOptions = {
    serverName = mkOption {
      type = types.nullOr types.str;
      default = null;
    };
    serverAliases = strList;
    enableACME = mkOption {
      type = types.bool;
      default = false;
    };
    useACMEHost = mkOption {
      type = types.nullOr types.str;
      default = null;
    };
    addSSL = mkOption {
      type = types.bool;
      default = false;
    };
    onlySSL = mkOption {
      type = types.bool;
      default = false;
    };
    forceSSL = mkOption {
      type = types.bool;
      default = false;
    };
    default = mkOption {
      type = types.bool;
      default = false;
    };
  };

  # nixos/modules/services/mail/postfix.nix: NixOS 25.11 ...
  postfixMain = types.submodule (
    { config, ... }:
    {
      freeformType = types.attrsOf (
        types.nullOr (
          types.oneOf [
            types.bool
            types.int
            types.str
            (types.listOf types.str)
          ]
        )
      );
      options = {
        smtpd_tls_chain_files = mkOption {
          type = types.listOf types.path;
          default = [ ];
        };
        smtpd_tls_security_level = mkOption {
          type = types.enum [
            "none"
            "may"
            "encrypt"
          ];
          default = if config.smtpd_tls_chain_files != [ ] then "may" else "none";
        };
      };
    }
  );
  postfixOptions =
    if postfix == "25.11" then
      {
        settings.main = mkOption {
          type = postfixMain;
          default = { };
        };
      }
    # ... and 24.11/25.05: sslCert, and main.cf as `config`, into which the
    # module puts smtpd_tls_security_level = "may" when sslCert is set.
    else
      {
        sslCert = str;
        config = mkOption {
          type = types.attrsOf (
            types.oneOf [
              types.bool
              types.str
              (types.listOf types.str)
            ]
          );
          default = { };
        };
      };
  postfixConfig =
    { config, ... }:
    lib.optionalAttrs (postfix != "25.11") {
      services.postfix.config = lib.mkIf (config.services.postfix.sslCert != "") {
        smtpd_tls_security_level = "may";
      };
    };
in
{
  inherit pkgs fakeDrv;

  module =
    { config, ... }:
    {
    imports = [ postfixConfig ];

    options = {
      # nixos/modules/tasks/network-interfaces.nix
      networking.hostName = mkOption {
        type = types.str;
        default = "nixos";
      };
      networking.domain = mkOption {
        type = types.nullOr types.str;
        default = null;
      };
      networking.fqdnOrHostName = mkOption {
        readOnly = true;
        type = types.str;
        default =
          let
            net = config.networking;
          in
          if net.domain == null then net.hostName else "${net.hostName}.${net.domain}";
      };

      services.nginx = {
        enable = mkOption {
          type = types.bool;
          default = false;
        };
        virtualHosts = mkOption {
          type = types.attrsOf (types.submodule { options = vhostOptions; });
          default = { };
        };
      };
      # nixos/modules/services/networking/ssh/sshd.nix
      services.openssh = {
        enable = mkOption {
          type = types.bool;
          default = false;
        };
        ports = mkOption {
          type = types.listOf types.port;
          default = [ 22 ];
        };
      };
      services.postfix = {
        enable = mkOption {
          type = types.bool;
          default = false;
        };
        enableSmtp = mkOption {
          type = types.bool;
          default = true;
        };
      }
      // postfixOptions;

      # nixos/modules/services/monitoring/prometheus/exporters.nix (+ node.nix):
      # the options nix/prometheus.nix reads and sets.
      services.prometheus.exporters.node = {
        enable = mkOption {
          type = types.bool;
          default = false;
        };
        group = mkOption {
          type = types.str;
          default = "node-exporter";
        };
        enabledCollectors = strList;
        extraFlags = strList;
      };

      # nixos/modules/programs/msmtp.nix, which examples/notify.nix sets (the
      # module itself reads none of it).
      programs.msmtp = mkOption {
        type = types.attrsOf types.anything;
        default = { };
      };

      assertions = mkOption {
        type = types.listOf (
          types.submodule {
            options.assertion = mkOption { type = types.bool; };
            options.message = mkOption { type = types.str; };
          }
        );
        default = [ ];
      };
      warnings = strList;

      users.users = mkOption {
        type = types.attrsOf (
          types.submodule {
            options = {
              isSystemUser = mkOption { type = types.bool; default = false; };
              group = str;
              home = str;
              description = str;
            };
          }
        );
        default = { };
      };
      users.groups = mkOption {
        type = types.attrsOf (types.submodule { });
        default = { };
      };

      environment.etc = mkOption {
        type = types.attrsOf (types.submodule { options.source = mkOption { type = types.unspecified; }; });
        default = { };
      };
      environment.systemPackages = mkOption {
        type = types.listOf types.package;
        default = [ ];
      };

      systemd.tmpfiles.rules = strList;
      systemd.services = mkOption {
        type = unitType {
          path = anyList;
          serviceConfig = anyAttrs;
        };
        default = { };
      };
      systemd.timers = mkOption {
        type = unitType { timerConfig = anyAttrs; };
        default = { };
      };
      systemd.paths = mkOption {
        type = unitType { pathConfig = anyAttrs; };
        default = { };
      };
    };
  };
}
