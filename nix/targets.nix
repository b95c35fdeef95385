# Option types of the monitoring targets: the common fields, the seven active
# check kinds and passive targets, with the names, types and defaults of the
# 2018 original (fixed to evaluate on a current NixOS: submodule functions
# take `...`, no `types.string`, `timers` is a real submodule).
#
# `globalPublic` is config.nixcloud.monitoring.public: a target's `public`
# defaults to it, as in the original.
{ lib, globalPublic }:
let
  inherit (lib) mkOption types literalExpression;

  secretPath = import ./secret-path.nix { inherit lib; };

  # nameText: how the docs show the default name (null: the value itself).
  common = defaultName: nameText: {
    host = mkOption {
      type = types.str;
      default = "";
      example = "example.com";
      description = ''
        The host name (`example.com`) or IPv4/IPv6 address to monitor
        (for `check_hydra`: the Hydra URL). Together with `name` it forms the
        target's id `<host>-<name>`, which must be unique over all active and
        passive targets.
      '';
    };
    name = mkOption {
      type = types.str;
      default = defaultName;
      # (an attribute whose name is null is left out)
      ${if nameText == null then null else "defaultText"} = nameText;
      description = ''
        Service name shown by the monitoring server. The id `<host>-<name>`
        must be unique over all active and passive targets together.
      '';
    };
    tags = mkOption {
      type = types.listOf types.str;
      default = [ ];
      example = [ "production" "web" ];
      description = "Extra tags for grouping targets on the server.";
    };
    public = mkOption {
      type = types.bool;
      default = globalPublic;
      defaultText = literalExpression "config.nixcloud.monitoring.public";
      description = ''
        Whether the server shows this target's results publicly. Setting it
        to `false` needs a license on status.nixcloud.io, or uploads fail.
      '';
    };
    apiKey = mkOption {
      type = types.nullOr types.str;
      default = null;
      description = ''
        API key for this target only (null: use the global key). Like the
        global `apiKey` it ends up world-readable in the Nix store; prefer
        `apiKeyFile`.
      '';
    };
    apiKeyFile = mkOption {
      type = types.nullOr secretPath;
      default = null;
      example = "/run/keys/nixcloud-monitoring-team-b";
      description = ''
        File holding the API key for this target only (null: use the
        global key). Read by systemd and passed to the units as the
        credential `api-key-<escaped id>`; never copied to the Nix store.
      '';
    };
  };

  addressFamilies = {
    ipv4 = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Check the target over IPv4. With `ipv6` also on, the server runs two
        checks, one per address family.
      '';
    };
    ipv6 = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Check the target over IPv6. With `ipv4` also on, the server runs two
        checks, one per address family.
      '';
    };
  };

  port =
    default:
    mkOption {
      type = types.port;
      inherit default;
      description = "TCP port to connect to.";
    };

  # The agent reads it as an unsigned 32-bit number; a wider type would let
  # evaluation pass a value every unit then refuses (tests/it/schema.rs).
  timeout =
    default:
    mkOption {
      type = types.ints.between 1 4294967295;
      inherit default;
      description = "Seconds before the check gives up.";
    };

  # One active check kind: its own options plus the common ones.
  # defaultName: a string, or a function of the target's config (check_hydra).
  activeKind =
    defaultName: options:
    types.submodule (
      { config, ... }:
      {
        options =
          (
            if builtins.isFunction defaultName then
              common (defaultName config) (literalExpression ''"''${project}_''${jobset}"'')
            else
              common defaultName null
          )
          // addressFamilies
          // {
            failureThreshold = mkOption {
              type = types.nullOr (types.ints.between 1 (import ./notify-limits.nix).maxThreshold);
              default = null;
              example = 3;
              description = ''
                Failed checks in a row before the target counts as failing: the
                server's count (Icinga2's `max_check_attempts`, failed probes
                in a row for Prometheus); null:
                `nixcloud.monitoring.failureThreshold`.
              '';
            };
          }
          // options;
      }
    );

  activeKinds = {
    check_http = activeKind "HTTP" {
      port = port 80;
      url = mkOption {
        type = types.str;
        default = "";
        example = "/main/en";
        description = "Path added to the host name to fetch (empty: `/`).";
      };
      contains = mkOption {
        type = types.str;
        default = "";
        example = "Foobar";
        description = "Text the page must contain for the check to pass (empty: not checked).";
      };
    };

    check_ssl_cert = activeKind "SSL" {
      port = port 443;
      warningDays = mkOption {
        type = types.int;
        default = 1000;
        example = 10;
        description = ''
          Warn when the certificate is valid for fewer days than this.
          1000 means "not set" (the checker's own default applies).
        '';
      };
      timeout = timeout 15;
    };

    check_dns = activeKind "DNS" {
      server = mkOption {
        type = types.str;
        default = "";
        example = "1.2.3.4";
        description = "DNS server to ask (empty: the checker's resolver).";
      };
      timeout = timeout 10;
      expected-address = mkOption {
        type = types.str;
        default = "";
        example = "1.2.3.4";
        description = ''
          Address the lookup must return (empty: not checked). When several
          addresses come back, give them all, comma-separated and sorted.
        '';
      };
      expect-authority = mkOption {
        type = types.str;
        default = "";
        description = ''
          Non-empty: the server must answer authoritatively for the lookup.
          (A string, as in the original.)
        '';
      };
    };

    check_ping = activeKind "PING" {
      warning = mkOption {
        type = types.str;
        default = "10,2%";
        description = ''
          WARNING threshold `<rta>,<pl>%`: round-trip average in ms and
          packet loss in percent.
        '';
      };
      critical = mkOption {
        type = types.str;
        default = "20,5%";
        description = ''
          CRITICAL threshold `<rta>,<pl>%`: round-trip average in ms and
          packet loss in percent.
        '';
      };
      timeout = timeout 10;
    };

    check_smtp = activeKind "SMTP" {
      port = port 25;
      certificate = mkOption {
        type = types.int;
        default = 1000;
        example = 10;
        description = ''
          Minimum number of days the server's certificate must still be valid.
          1000 means "not checked".
        '';
      };
      starttls = mkOption {
        type = types.bool;
        default = false;
        description = "Use STARTTLS for the connection.";
      };
      timeout = timeout 10;
    };

    check_ssh = activeKind "SSH" {
      port = port 22;
      remoteVersion = mkOption {
        type = types.str;
        default = "";
        example = "OpenSSH_9.6";
        description = "Alert when the server's version string differs (empty: not checked).";
      };
      timeout = timeout 10;
    };

    check_hydra = activeKind (config: "${config.project}_${config.jobset}") {
      project = mkOption {
        type = types.str;
        default = "";
        example = "nixpkgs";
        description = "Hydra project whose jobset is watched.";
      };
      jobset = mkOption {
        type = types.str;
        default = "";
        example = "trunk";
        description = "Hydra jobset to watch. The target's name defaults to `<project>_<jobset>`.";
      };
    };
  };

  passive = types.submodule (
    {
      # `name` has no default here: a passive target must be named.
      options = builtins.removeAttrs (common "" null) [ "name" ] // {
        name = mkOption {
          type = types.str;
          example = "backup";
          description = ''
            Service name shown by the monitoring server (required for passive
            targets). The id `<host>-<name>` must be unique over all targets.
          '';
        };
        script = mkOption {
          type = types.lines;
          default = "";
          example = literalExpression ''
            '''
              if systemctl is-failed --quiet restic-backups-daily.service; then
                exit=2; status="last backup failed"
              else
                exit=0; status="backup ok"
              fi
              perfdata=""
            '''
          '';
          description = ''
            Bash snippet that sets the variables `exit` (0 OK, 1 WARNING,
            2 CRITICAL, 3 UNKNOWN), `status` (one line of text) and `perfdata`.
            When set, a timer runs it every `timers.check` minutes (or on
            `timers.calendar`) and sends the result. Empty: results are only pushed by hand with the
            command `nixcloud.monitoring-passive-result-<escaped id>`.
            The script runs as user `nixcloud-monitoring` in a sandbox; see
            `serviceConfig` to open it up.
          '';
        };
        timers = mkOption {
          default = { };
          description = ''
            How often results come, and when their absence raises an alarm:
            an interval (`check`, `timeout`) or a calendar (`calendar`,
            `grace`), not both.
          '';
          type = types.submodule {
            options = {
              # The bounds are the agent's (src/config/limits.rs), held by
              # tests/it/schema.rs: 365 and 366 days, so that the longest check still
              # has a longer timeout.
              check = mkOption {
                type = types.nullOr (types.ints.between 1 525600);
                default = null;
                defaultText = literalExpression "60 (none with calendar)";
                description = ''
                  Minutes between two results (how often `script` runs); null:
                  60, or the calendar's runs when `calendar` is set.
                '';
              };
              timeout = mkOption {
                type = types.nullOr (types.ints.between 2 527040);
                default = null;
                defaultText = literalExpression "180 (none with calendar)";
                example = 180;
                description = ''
                  Minutes without a result after which the server raises an
                  alarm; null: 180 (with `calendar`: derived from it). Must be
                  larger than `check`; two or three times `check` is a good
                  value.
                '';
              };
              calendar = mkOption {
                type = types.nullOr (types.either types.str (types.listOf types.str));
                default = null;
                example = "Mon..Fri 18:00";
                description = ''
                  One systemd `OnCalendar=` expression (systemd.time(7)), or a
                  list of them, instead of `check` and `timeout`: the script's
                  timer runs on it (`Persistent = true`: a run missed while the
                  machine was off happens at boot), and the silence the
                  backends allow is the longest gap between two runs over the
                  next year (as systemd computes the runs, time-zone changes
                  included) plus `grace`. `nixcloud-monitoring check` and every
                  unit's start refuse an expression systemd refuses, quoting
                  systemd's message.
                '';
              };
              grace = mkOption {
                type = types.nullOr (types.ints.between 1 527040);
                default = null;
                description = ''
                  Minutes a calendar target may be late before it counts as
                  silent; null: a tenth of the longest gap between two runs, at
                  least 5.
                '';
              };
            };
          };
        };
        failureThreshold = mkOption {
          type = types.nullOr (types.ints.between 1 (import ./notify-limits.nix).maxThreshold);
          default = null;
          example = 3;
          description = ''
            Non-OK results in a row before the target counts as failing (and
            `notify` tells of it); null: `nixcloud.monitoring.failureThreshold`.
          '';
        };
        notify = mkOption {
          default = { };
          description = ''
            When the `notify` destination tells of this target; unset keys
            take `nixcloud.monitoring.notify`'s.
          '';
          type = types.submodule {
            options = {
              enable = mkOption {
                type = types.nullOr types.bool;
                default = null;
                description = "Whether this target's changes are told (null: yes).";
              };
              successThreshold = mkOption {
                type = types.nullOr (types.ints.between 1 (import ./notify-limits.nix).maxThreshold);
                default = null;
                description = "OK results in a row before a recovery is told.";
              };
              recovery = mkOption {
                type = types.nullOr types.bool;
                default = null;
                description = "Whether recoveries are told.";
              };
              repeat = mkOption {
                type = types.nullOr (types.ints.between 0 (import ./notify-limits.nix).maxRepeatMinutes);
                default = null;
                example = 240;
                description = "Minutes between reminders while a problem lasts; 0: none.";
              };
            };
          };
        };
        scriptTimeout = mkOption {
          # At most 366 days, the agent's bound (src/config/limits.rs).
          type = types.nullOr (types.ints.between 1 31622400);
          default = null;
          example = 300;
          description = ''
            Seconds the script may run before it is killed and UNKNOWN is
            reported (null: `timers.check * 60`).
          '';
        };
        path = mkOption {
          type = types.listOf (types.either types.package types.str);
          default = [ ];
          example = literalExpression "[ pkgs.restic pkgs.curl ]";
          description = ''
            Packages put on the script's PATH, besides bash, coreutils,
            findutils, grep, sed and systemd. Not written to the config file.
          '';
        };
        serviceConfig = mkOption {
          type = types.attrsOf types.anything;
          default = { };
          example = literalExpression ''
            {
              # ping needs a raw socket
              AmbientCapabilities = [ "CAP_NET_RAW" ];
              CapabilityBoundingSet = [ "CAP_NET_RAW" ];
              # read backups below /home
              ProtectHome = "read-only";
            }
          '';
          description = ''
            systemd `[Service]` settings for the unit that runs `script`; each
            key replaces the module's hardened default for that key (see
            README.md, "Sandbox"). In `mode = "daemon"` the settings of
            all passive targets apply to the daemon. Not written to the config
            file.
          '';
        };
      };
    }
  );
in
{
  inherit activeKinds passive;
}
