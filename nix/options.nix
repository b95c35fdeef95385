# Declarations of all `nixcloud.monitoring.*` options. The names, types and
# defaults of the 2018 original are kept (enable, apiKey, apiHost, public,
# targets.active.<kind>, targets.passive); the rest is new. The option names
# are also the keys of the agent's config file (docs/config.md).
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib)
    mkEnableOption
    mkOption
    types
    literalExpression
    ;

  cfg = config.nixcloud.monitoring;
  secretPath = import ./secret-path.nix { inherit lib; };
  targetTypes = import ./targets.nix {
    inherit lib;
    globalPublic = cfg.public;
  };

  # The agent's backend kinds (src/config/backends.rs).
  backendKinds = [
    "nixcloud"
    "local"
    "icinga2"
    "prometheus"
    "healthchecks"
    "notify"
    "page"
  ];

  activeList =
    kind: type:
    mkOption {
      type = types.listOf type;
      default = [ ];
      description = ''
        `${kind}` targets, registered with the server, which runs the check.
        Lists from several modules are concatenated.
      '';
    };
in
{
  options.nixcloud.monitoring = {
    enable = mkEnableOption "nixcloud.monitoring, which registers monitoring targets with a server and pushes passive check results to it";

    package = mkOption {
      type = types.package;
      default = pkgs.nixcloud-monitoring or (pkgs.callPackage ./package.nix { });
      defaultText = literalExpression "pkgs.nixcloud-monitoring or (pkgs.callPackage ./nix/package.nix { })";
      description = ''
        The agent. Defaults to the overlay's `pkgs.nixcloud-monitoring`
        when the overlay is applied, else to the agent built from this
        source tree.
      '';
    };

    mode = mkOption {
      type = types.enum [
        "timers"
        "daemon"
      ];
      default = "timers";
      description = ''
        How the agent runs. `timers`: short-lived units started by systemd
        timers (registration, one unit per scripted passive target, queue
        delivery). `daemon`: one long-running `nixcloud.monitoring.service`
        (Type=notify, watchdog) that does all of it. The per-target commands
        exist in both modes.
      '';
    };

    backend = mkOption {
      type = types.enum backendKinds;
      default = "nixcloud";
      description = ''
        Where registrations and results go: `nixcloud` (the HTTP API at
        `apiHost`), `local` (only recorded in the state directory),
        `icinga2` (an Icinga 2 REST API, see `icinga2.*`), `prometheus` (a
        textfile for the node exporter, see `prometheus.*`), `healthchecks`
        (a Healthchecks server, see `healthchecks.*`), `notify` (tell
        people: mail, ntfy, webhooks; see `notify.*`) or `page` (a static
        status page, see `page.*`).
        For several at once use `backends`; setting both is an error.
      '';
    };

    backends = mkOption {
      type = types.listOf (types.enum backendKinds);
      default = [ cfg.backend ];
      defaultText = literalExpression "[ config.nixcloud.monitoring.backend ]";
      example = [
        "prometheus"
        "icinga2"
      ];
      description = ''
        Every backend each registration and result goes to (kinds as for
        `backend`), each at most once. Defaults to `backend` alone; set
        either this or `backend`, not both.
      '';
    };

    apiKey = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "zws0mxsjyhzv9102vwgnzbm2r";
      description = ''
        API key for `apiHost`. Kept for compatibility: it is written to the
        Nix store and to /etc/nixcloud-monitoring/config.toml, which every
        local user can read (a warning says so). Use `apiKeyFile`.
      '';
    };

    apiKeyFile = mkOption {
      type = types.nullOr secretPath;
      default = null;
      example = "/run/keys/nixcloud-monitoring";
      description = ''
        File holding the API key (first line; surrounding whitespace is
        ignored), readable by root only. systemd hands it to the units as
        the credential `api-key` (LoadCredential); it is never copied to the
        Nix store. Give it as a string, not as a Nix path.
      '';
    };

    apiHost = mkOption {
      type = types.str;
      default = "https://status.nixcloud.io";
      description = "Base URL of the monitoring API targets are registered with and results are sent to.";
    };

    public = mkOption {
      type = types.bool;
      default = true;
      description = ''
        Default of every target's `public`: whether the server shows the
        results publicly. `false` needs a license on status.nixcloud.io, or
        uploads fail.
      '';
    };

    failureThreshold = mkOption {
      type = types.ints.between 1 (import ./notify-limits.nix).maxThreshold;
      default = 1;
      description = ''
        Default of every target's `failureThreshold` (active, passive,
        watched units and automatic targets): the non-OK results in a row
        before a target counts as failing (and `notify` tells of it).
      '';
    };

    queue = {
      maxCount = mkOption {
        type = types.ints.positive;
        default = 10000;
        description = "Most results kept while the server cannot be reached. When the queue is full, what is queued is delivered first; if that makes no room, the new result is refused (exit 5, the counts in the message) and nothing queued is dropped.";
      };
      maxBytes = mkOption {
        # At least 1 MiB: the largest result (64 KiB output and perfdata, JSON-escaped) must
        # fit into an empty queue. The agent's bounds are the same (src/config/limits.rs,
        # held by tests/it/schema.rs).
        type = types.ints.between 1048576 9223372036854775807;
        default = 67108864;
        description = "Most bytes of results kept while the server cannot be reached (64 MiB).";
      };
    };

    delivery = {
      # The bounds are the agent's (src/config/limits.rs), held by tests/it/schema.rs.
      attempts = mkOption {
        type = types.ints.between 1 100;
        default = 3;
        description = "Attempts per request on server errors (5xx), timeouts and connection errors before a result stays queued.";
      };
      timeout = mkOption {
        type = types.ints.between 1 3600;
        default = 30;
        description = "Seconds one request to the server may take (at most an hour).";
      };
      concurrency = mkOption {
        type = types.ints.positive;
        default = 16;
        description = "Requests in flight at once while registering targets.";
      };
    };

    icinga2 = {
      url = mkOption {
        type = types.nullOr (types.either types.str (types.listOf types.str));
        default = null;
        example = "https://icinga.example.org:5665";
        description = ''
          Base URL of the Icinga 2 REST API (backend = "icinga2"), or a list
          of them: the endpoints of the master zone (its two masters). The
          agent uses one and moves on to the next when it cannot connect,
          times out or answers 5xx. Do not list satellite endpoints: objects
          created through a satellite stay in its zone (docs/icinga2.md,
          "Fleet layout").
        '';
      };
      user = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "nixcloud-monitoring";
        description = "Icinga 2 ApiUser name (backend = \"icinga2\").";
      };
      passwordFile = mkOption {
        type = types.nullOr secretPath;
        default = null;
        example = "/run/keys/icinga2-api-password";
        description = ''
          File holding the ApiUser's password, passed to the units as the
          credential `icinga2-password`; never copied to the Nix store.
        '';
      };
      caFile = mkOption {
        type = types.nullOr types.path;
        default = null;
        example = "/etc/icinga2/ca.crt";
        description = ''
          CA certificate that signed the Icinga 2 API certificate (null: the
          system's trusted roots). Public data, so a Nix path is fine here.
        '';
      };
      serverName = mkOption {
        type = types.nullOr (types.either types.str (types.listOf types.str));
        default = null;
        example = "icinga-master";
        description = ''
          Name on the API certificate when it differs from the URL's host
          (Icinga's node name); with several URLs, one name for all or a list
          of one name per URL, in the same order.
        '';
      };
      owner = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "web1";
        description = ''
          Mark on the Icinga2 objects this machine owns
          (`vars.nixcloud_monitoring_owner`): `register` only updates and
          removes objects with this mark. `null` means the machine's host
          name. Give every machine its own.
        '';
      };
    };

    # The agent's side of the prometheus backend. The options a Prometheus
    # server machine reads (rules, scrapeConfigs, blackboxModules, ...) are
    # declared in nix/prometheus.nix: they never reach the config file.
    prometheus.textfile = mkOption {
      type = types.nullOr types.str;
      default = null;
      example = "/var/lib/prometheus-node-exporter-textfile/nixcloud-monitoring.prom";
      description = ''
        The `.prom` file the `prometheus` backend writes (replaced
        atomically). `null`: `<stateDir>/prometheus/nixcloud-monitoring.prom`,
        or, when `services.prometheus.exporters.node.enable` is set, a file
        in the directory the module gives the node exporter's textfile
        collector (see nix/prometheus.nix).
      '';
    };

    # The agent's side of the page backend; the web server's side
    # (page.group, page.nginx.*) is declared in nix/page.nix and never reaches
    # the config file.
    page = {
      dir = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "/var/lib/nixcloud-monitoring-page";
        description = ''
          The directory the `page` backend writes the status page into
          (index.html, status.json, badges/, targets/; each file replaced
          atomically). `null`: the module's
          /var/lib/nixcloud-monitoring-page when the backend is used (owned
          by the agent, readable by `page.group`); the agent alone uses
          `<stateDir>/page/site`.
        '';
      };
      showOutput = mkOption {
        type = types.either types.bool (types.listOf types.str);
        default = true;
        example = [ "web1.example.org-backup" ];
        description = ''
          Whose outputs (and perfdata) the page shows: `true` every
          target's, `false` none, or a list of target ids: only those
          (a misspelt or new id shows nothing: the list fails closed).
        '';
      };
    };

    healthchecks = {
      url = mkOption {
        type = types.str;
        default = "https://healthchecks.io";
        example = "https://hc.example.org";
        description = "Base URL of the Healthchecks server (backend `healthchecks`).";
      };
      apiKeyFile = mkOption {
        type = types.nullOr secretPath;
        default = null;
        example = "/run/keys/healthchecks";
        description = ''
          File holding the project's API key (required with the
          `healthchecks` backend), passed to the units as the credential
          `healthchecks-api-key`; never copied to the Nix store.
        '';
      };
      owner = mkOption {
        type = types.nullOr types.str;
        default = null;
        example = "web1";
        description = ''
          Mark on the checks this machine owns; `register` only updates and
          removes checks with it. `null` means the machine's host name.
        '';
      };
    };

    inherit (import ./notify-options.nix { inherit lib; }) notify;

    targets = mkOption {
      default = { };
      description = ''
        What to monitor.

        * `active`: checks the server runs against your hosts from outside
          (HTTP, TLS certificates, DNS, ping, SMTP, SSH, Hydra jobsets).
        * `passive`: results pushed from this machine (backups, internal
          state), also from hosts the server cannot reach.
      '';
      type = types.submodule {
        options = {
          active = mkOption {
            default = { };
            description = "Active targets, one list per check kind.";
            type = types.submodule {
              options = lib.mapAttrs activeList targetTypes.activeKinds;
            };
          };
          passive = mkOption {
            type = types.listOf targetTypes.passive;
            default = [ ];
            example = literalExpression ''
              [ { host = "mail.example.org"; name = "backup"; timers = { check = 60; timeout = 180; }; } ]
            '';
            description = ''
              Passive targets. Each gets a command
              `nixcloud.monitoring-passive-result-<escaped id> OUTPUT PERFDATA STATE`
              on the system PATH; those with a `script` also get a timer that
              runs it. Lists from several modules are concatenated.
            '';
          };
        };
      };
    };
  };
}
