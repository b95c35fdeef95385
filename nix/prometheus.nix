# The Prometheus side of nixcloud.monitoring: pure helpers (builtins only,
# tested without nixpkgs by nix/tests/test-prometheus.nix and, with the real
# promtool, node exporter and blackbox exporter, by tests/prometheus/run.sh)
# and `module`, the NixOS module module.nix imports.
#
# Two machines are involved:
#
# * The monitored machine (backend "prometheus"): the agent writes one
#   textfile, replaced atomically, in the node exporter's format:
#     nixcloud_monitoring_state{target,host,service}     0 OK .. 3 UNKNOWN
#     nixcloud_monitoring_last_result_timestamp_seconds{...}
#     nixcloud_monitoring_check_interval_seconds{...}    timers.check * 60
#     nixcloud_monitoring_timeout_seconds{...}           timers.timeout * 60
#     nixcloud_monitoring_registered_timestamp_seconds{...}  every passive
#                                                        target, also before
#                                                        its first result
#     nixcloud_monitoring_failures_in_a_row{...}         non-OK results in a row
#     nixcloud_monitoring_failure_threshold{...}         failureThreshold
#     nixcloud_monitoring_run_duration_seconds{...}
#     nixcloud_monitoring_perfdata{...,label,uom}
#   When services.prometheus.exporters.node.enable is set, `module` points the
#   node exporter's textfile collector at a directory the agent writes and
#   the exporter only reads, and makes that the default textfile.
#
# * The Prometheus server machine. It does not run this module for the
#   monitored machines; it reads, in a flake, what each of them computed:
#
#     let
#       machines = with self.nixosConfigurations; [ web1 mail ];
#       mon = m: m.config.nixcloud.monitoring.prometheus;
#     in {
#       services.prometheus.ruleFiles = [
#         ((pkgs.formats.yaml { }).generate "nixcloud-monitoring.rules.yml" {
#           # The generic group is the same on every machine; lib.unique keeps one.
#           groups = lib.unique (lib.concatMap (m: (mon m).rules.groups) machines);
#         })
#       ];
#       services.prometheus.scrapeConfigs =
#         # one job per check kind and machine: job names must be unique
#         lib.concatMap (m: (mon m).scrapeConfigs) machines;
#       services.prometheus.exporters.blackbox = {
#         enable = true;
#         configFile = (pkgs.formats.yaml { }).generate "blackbox.yml" {
#           modules = lib.foldl' (a: m: a // (mon m).blackboxModules) { } machines;
#         };
#       };
#     }
#
#   `rules` alerts on the textfile metrics (scraped from the machines' node
#   exporters, a scrape config the admin writes as for any node exporter) and
#   on the blackbox probes; `scrapeConfigs` and `blackboxModules` turn the
#   machine's active targets into blackbox exporter probes run by the
#   Prometheus machine (`blackboxAddress`, default 127.0.0.1:9115).
#
# Active kinds and their blackbox probes (one module per target and address
# family; ipv4/ipv6 as preferred_ip_protocol without fallback):
#   check_http      http; https:// when port = 443; `contains` becomes
#                   fail_if_body_not_matches_regexp (the text, quoted)
#   check_ssl_cert  tcp with tls; blackbox exports
#                   probe_ssl_earliest_cert_expiry, and warningDays (unless
#                   1000, "not set") becomes an alert rule on it
#   check_dns       dns: query_name = host, at `server` (empty: `dnsServer`);
#                   expected-address: every address must be in the answer
#                   and nothing else; expect-authority has no blackbox
#                   equivalent (blackbox cannot test the AA flag): ignored
#   check_ping      icmp (one echo; the rta/loss thresholds are not mapped)
#   check_ssh       tcp expecting the banner "SSH-2.0-" (+ remoteVersion)
#   check_smtp      tcp expecting "220"; with starttls: EHLO, STARTTLS, TLS,
#                   and `certificate` (unless 1000) as an expiry rule
#   check_hydra     none (a Hydra jobset's state is no probe); left out
let
  names = import ./names.nix;
  escape = import ./escape.nix;
  inventory = import ./inventory.nix;
  inherit (import ./render.nix) uses;
  util = import ./util.nix;
  inherit (util) concatMap filterAttrs optional;
  inherit (builtins)
    concatStringsSep
    filter
    foldl'
    hasAttr
    listToAttrs
    map
    replaceStrings
    stringLength
    substring
    ;

  # Go (RE2) regexp matching the string literally.
  reSpecial = [
    "\\"
    "."
    "+"
    "*"
    "?"
    "("
    ")"
    "|"
    "["
    "]"
    "{"
    "}"
    "^"
    "$"
  ];
  reQuote = replaceStrings reSpecial (map (c: "\\" + c) reSpecial);

  hasPrefix = p: s: substring 0 (stringLength p) s == p;
  isIPv6 = h: builtins.match ".*:.*" h != null;
  # host:port, IPv6 literals in brackets.
  hostPort = host: port: if isIPv6 host then "[${host}]:${toString port}" else "${host}:${toString port}";

  families =
    t:
    optional (t.ipv4 or true) {
      suffix = "ip4";
      protocol = "ip4";
    }
    ++ optional (t.ipv6 or true) {
      suffix = "ip6";
      protocol = "ip6";
    };
  ipSettings = fam: {
    preferred_ip_protocol = fam.protocol;
    ip_protocol_fallback = false;
  };

  seconds = n: "${toString n}s";

  notSet = 1000;
  day = 86400;
in
rec {
  # ---- the monitored machine ----------------------------------------------

  # Where the node exporter's textfile collector reads and the agent writes.
  # Its own directory, not the state directory (0750, group nixcloud-monitoring),
  # which the exporter must not see. tmpfilesRules below sets its mode.
  textfileDir = "/var/lib/nixcloud-monitoring-textfile";
  textfileName = "nixcloud-monitoring.prom";
  defaultTextfile = "${textfileDir}/${textfileName}";

  # The flag the node exporter gets (services.prometheus.exporters.node.extraFlags).
  nodeExporterFlag = "--collector.textfile.directory=${textfileDir}";

  # nixpkgs' node exporter (nixos/modules/services/monitoring/prometheus/
  # exporters/node.nix and exporters.nix, as found with the search tool):
  # node.nix sets DynamicUser = false, so exporters.nix creates a static
  # system user and group, both `services.prometheus.exporters.node.user` /
  # `.group` (default "node-exporter"), and runs the unit as them with
  # ProtectSystem = "strict" (everything read-only, /var/lib readable),
  # ProtectHome, PrivateTmp and UMask 0077.
  #
  # So the directory is owned by the agent's user with the exporter's group,
  # 2750: the agent creates, writes and renames files in it; the exporter can
  # list it and read files its group can read, but not create, remove or
  # rename anything; others see nothing. setgid makes every file the agent
  # creates belong to the exporter's group (the agent gives the textfile mode
  # 0644 itself, whatever the units' UMask 0007, and a rename keeps it; the
  # directory keeps others out). The agent's temporary file
  # (.<name>.<pid>.tmp) does not end in .prom, so the collector never reads
  # it half-written. tests/prometheus/run.sh checks all of this as root.
  tmpfilesRules = exporterGroup: [
    "d ${textfileDir} 2750 ${names.user} ${exporterGroup} - -"
  ];

  # Directories the agent's units must write besides the state directory
  # (ReadWritePaths=, units.nix `writablePaths`): the textfile's directory,
  # when the prometheus backend is used and the textfile is set outside the
  # state directory. A directory the module does not create gets systemd's
  # "-" (a missing one does not fail every unit; the agent names the error).
  writablePaths =
    cfg:
    let
      textfile = cfg.prometheus.textfile or null;
      dir = builtins.dirOf textfile;
    in
    if !(uses cfg "prometheus") || textfile == null || hasPrefix "${names.stateDir}/" textfile then
      [ ]
    else if dir == textfileDir then
      [ dir ]
    else
      [ "-${dir}" ];

  # ---- the Prometheus server machine --------------------------------------

  # Active targets that become probes, each with its kind, id, module name per
  # address family, and the probe's address.
  probes =
    cfg:
    concatMap (
      e:
      let
        t = e.target;
        kind = e.kind;
        spec = probeSpec cfg kind t;
      in
      if spec == null then
        [ ]
      else
        map (fam: {
          inherit kind fam spec;
          inherit (e) id escaped;
          target = t;
          threshold = thresholdOf cfg t;
          module = "nixcloud_${e.escaped}_${fam.suffix}";
        }) (families t)
    ) (inventory.activeTargets cfg);

  # An active target's failureThreshold: its own, else the top-level one.
  thresholdOf =
    cfg: t:
    if (t.failureThreshold or null) != null then t.failureThreshold else cfg.failureThreshold or 1;

  # Minutes between two probes of a target (every job's scrape_interval): a
  # threshold of N waits (N - 1) of them for the Nth failed probe.
  probeMinutes = 1;

  # kind -> { address; prober; timeout; settings = fam: { <prober> = ...; }; }
  probeSpec =
    cfg: kind: t:
    let
      tcp = query: fam: {
        tcp = ipSettings fam // query;
      };
    in
    if kind == "check_http" then
      {
        address =
          let
            scheme = if t.port == 443 then "https" else "http";
            path = if t.url == "" then "/" else if hasPrefix "/" t.url then t.url else "/${t.url}";
          in
          "${scheme}://${hostPort t.host t.port}${path}";
        prober = "http";
        timeout = 10;
        settings = fam: {
          http =
            ipSettings fam
            // (if t.contains == "" then { } else { fail_if_body_not_matches_regexp = [ (reQuote t.contains) ]; });
        };
      }
    else if kind == "check_ssl_cert" then
      {
        address = hostPort t.host t.port;
        prober = "tcp";
        inherit (t) timeout;
        settings = tcp {
          tls = true;
          tls_config.server_name = t.host;
        };
      }
    else if kind == "check_dns" then
      let
        expected = filter (a: a != "") (
          map (a: replaceStrings [ " " ] [ "" ] a) (filter builtins.isString (builtins.split "," t.expected-address))
        );
        v6 = expected != [ ] && builtins.all isIPv6 expected;
        server = if t.server == "" then cfg.prometheus.dnsServer or "127.0.0.1" else t.server;
      in
      {
        address = server;
        prober = "dns";
        inherit (t) timeout;
        settings = fam: {
          dns =
            ipSettings fam
            // {
              query_name = t.host;
              query_type = if v6 then "AAAA" else "A";
            }
            // (
              if expected == [ ] then
                { }
              else
                {
                  # An answer record reads "name.\tttl\tIN\tA\t1.2.3.4".
                  validate_answer_rrs = {
                    fail_if_not_matches_regexp = [ "\\t(${concatStringsSep "|" (map reQuote expected)})$" ];
                    fail_if_none_matches_regexp = map (a: "\\t${reQuote a}$") expected;
                  };
                }
            );
        };
      }
    else if kind == "check_ping" then
      {
        address = t.host;
        prober = "icmp";
        inherit (t) timeout;
        settings = fam: { icmp = ipSettings fam; };
      }
    else if kind == "check_ssh" then
      {
        address = hostPort t.host t.port;
        prober = "tcp";
        inherit (t) timeout;
        settings = tcp {
          query_response = [
            {
              expect =
                "^SSH-(1\\.99|2\\.0)-" + (if t.remoteVersion == "" then "" else "${reQuote t.remoteVersion}(\\s|$)");
            }
          ];
        };
      }
    else if kind == "check_smtp" then
      {
        address = hostPort t.host t.port;
        prober = "tcp";
        inherit (t) timeout;
        settings = tcp {
          query_response =
            [ { expect = "^220[ -]"; } ]
            ++ (
              if t.starttls then
                [
                  { send = "EHLO nixcloud-monitoring\r"; }
                  { expect = "^250[ -]STARTTLS"; }
                  { send = "STARTTLS\r"; }
                  { expect = "^220"; }
                  { starttls = true; }
                  { send = "EHLO nixcloud-monitoring\r"; }
                  { expect = "^250 "; }
                ]
              else
                [ ]
            )
            ++ [ { send = "QUIT\r"; } ];
        };
      }
    else
      # check_hydra
      null;

  # blackbox.yml's `modules`.
  blackboxModules =
    cfg:
    listToAttrs (
      map (p: {
        name = p.module;
        value = {
          inherit (p.spec) prober;
          timeout = seconds p.spec.timeout;
        }
        // p.spec.settings p.fam;
      }) (probes cfg)
    );

  # Prometheus scrape_configs: one job per check kind that has probes, named
  # nixcloud-monitoring-<hostName>-<kind> (unique over the machines). Each
  # probe is one static target carrying its module (__param_module), the
  # labels target (the id), host, service (the name) and family (and
  # failure_threshold where it is above 1, for the rules); relabeling
  # sends the scrape to the blackbox exporter with the probe's address as
  # ?target=, which also becomes `instance`.
  scrapeConfigs =
    {
      cfg,
      hostName,
      blackboxAddress ? "127.0.0.1:9115",
    }:
    let
      all = probes cfg;
      ofKind = kind: filter (p: p.kind == kind) all;
      maxOf = foldl' (a: b: if b > a then b else a) 0;
      job =
        kind:
        let
          ps = ofKind kind;
          # Room for the slowest probe, within the interval (blackbox cuts a
          # probe at the scrape's timeout).
          longest = maxOf (map (p: p.spec.timeout) ps) + 1;
        in
        {
          job_name = "nixcloud-monitoring-${hostName}-${kind}";
          metrics_path = "/probe";
          scrape_interval = "${toString probeMinutes}m";
          scrape_timeout = seconds (if longest > 60 then 60 else longest);
          static_configs = map (p: {
            targets = [ p.spec.address ];
            labels = {
              __param_module = p.module;
              target = p.id;
              host = p.target.host;
              service = p.target.name;
              family = p.fam.suffix;
            }
            // (if p.threshold > 1 then { failure_threshold = toString p.threshold; } else { });
          }) ps;
          relabel_configs = [
            {
              source_labels = [ "__address__" ];
              target_label = "__param_target";
            }
            {
              source_labels = [ "__param_target" ];
              target_label = "instance";
            }
            {
              target_label = "__address__";
              replacement = blackboxAddress;
            }
          ];
        };
    in
    map job (filter (k: ofKind k != [ ]) names.activeKinds);

  # A state alert fires once failureThreshold non-OK results came in a row:
  # the textfile's nixcloud_monitoring_failures_in_a_row against
  # nixcloud_monitoring_failure_threshold ("unless" a count below it, so a
  # textfile of an older agent without them still alerts at once).
  failing =
    state:
    "(nixcloud_monitoring_state == ${toString state}) unless (nixcloud_monitoring_failures_in_a_row < nixcloud_monitoring_failure_threshold)";

  # The generic alerts, the same on every machine (one group name, so a
  # server can merge the machines' groups with lib.unique).
  genericGroup = {
    name = "nixcloud-monitoring";
    rules = [
      {
        alert = "NixcloudMonitoringStale";
        # No result for timers.timeout, or (never reported) registered longer
        # ago than that without any result. Both sides of each comparison come
        # from one textfile, so they match on all their labels.
        expr = concatStringsSep " " [
          "(time() - nixcloud_monitoring_last_result_timestamp_seconds > nixcloud_monitoring_timeout_seconds)"
          "or"
          "((time() - nixcloud_monitoring_registered_timestamp_seconds > nixcloud_monitoring_timeout_seconds)"
          "unless nixcloud_monitoring_last_result_timestamp_seconds)"
        ];
        labels.severity = "critical";
        annotations.summary = "{{ $labels.service }} on {{ $labels.host }}: no result for longer than its timeout";
      }
      {
        alert = "NixcloudMonitoringCritical";
        expr = failing 2;
        labels.severity = "critical";
        annotations.summary = "{{ $labels.service }} on {{ $labels.host }} is CRITICAL";
      }
      {
        alert = "NixcloudMonitoringWarning";
        expr = failing 1;
        labels.severity = "warning";
        annotations.summary = "{{ $labels.service }} on {{ $labels.host }} is WARNING";
      }
      {
        alert = "NixcloudMonitoringUnknown";
        expr = failing 3;
        labels.severity = "warning";
        annotations.summary = "{{ $labels.service }} on {{ $labels.host }} is UNKNOWN";
      }
      {
        alert = "NixcloudMonitoringProbeFailed";
        # A probe with failure_threshold above 1 is the machine's own rules'
        # (thresholdGroup); without the label: at the first failed probe.
        expr = ''probe_success{job=~"nixcloud-monitoring-.*",failure_threshold=""} == 0'';
        labels.severity = "critical";
        annotations.summary = "{{ $labels.service }} on {{ $labels.host }} ({{ $labels.family }}): the probe failed";
      }
    ];
  };

  # The probe alert of the machine's targets with a failureThreshold N above
  # 1: one rule per N, on the machine's jobs only (another machine has its
  # own), firing once the probe failed (N - 1) intervals after the first
  # failure, i.e. at the Nth failed probe in a row; a successful probe in
  # between resets the wait. (Holds while rules are evaluated at least once
  # per probe, as Prometheus's default evaluation_interval of 1m does.)
  thresholdGroup =
    { cfg, hostName }:
    let
      jobs = concatStringsSep "|" (map (k: "nixcloud-monitoring-${hostName}-${k}") names.activeKinds);
      above1 = filter (n: n > 1) (map (p: p.threshold) (probes cfg));
      # Each N once, in order.
      thresholds = builtins.sort builtins.lessThan (
        map builtins.fromJSON (
          builtins.attrNames (
            builtins.listToAttrs (
              map (n: {
                name = toString n;
                value = null;
              }) above1
            )
          )
        )
      );
    in
    {
      name = "nixcloud-monitoring-probes-${hostName}";
      rules = map (n: {
        alert = "NixcloudMonitoringProbeFailed";
        expr = ''probe_success{job=~"${jobs}",failure_threshold="${toString n}"} == 0'';
        "for" = "${toString ((n - 1) * probeMinutes)}m";
        labels.severity = "critical";
        annotations.summary = "{{ $labels.service }} on {{ $labels.host }} ({{ $labels.family }}): the probe failed ${toString n} times in a row";
      }) thresholds;
    };

  # Prometheus rule file: the generic group, the machine's probe thresholds
  # (thresholdGroup) and its certificate thresholds (check_ssl_cert
  # warningDays, check_smtp certificate), which are per target.
  rules =
    { cfg, hostName }:
    let
      probeThresholds = thresholdGroup { inherit cfg hostName; };
      expiring = concatMap (
        e:
        let
          days =
            if e.kind == "check_ssl_cert" then
              e.target.warningDays
            else if e.kind == "check_smtp" && e.target.starttls then
              e.target.certificate
            else
              notSet;
        in
        if days == notSet then
          [ ]
        else
          [
            {
              alert = "NixcloudMonitoringCertificateExpiry";
              expr = ''probe_ssl_earliest_cert_expiry{job="nixcloud-monitoring-${hostName}-${e.kind}",target="${e.id}"} - time() < ${toString (days * day)}'';
              labels.severity = "warning";
              annotations.summary = "{{ $labels.service }} on {{ $labels.host }}: the certificate expires in less than ${toString days} days";
            }
          ]
      ) (filter (e: e.kind == "check_ssl_cert" || e.kind == "check_smtp") (inventory.activeTargets cfg));
    in
    {
      groups = [ genericGroup ]
      ++ optional (probeThresholds.rules != [ ]) probeThresholds
      ++ optional (expiring != [ ]) {
        name = "nixcloud-monitoring-certificates-${hostName}";
        rules = expiring;
      };
    };

  # ---- NixOS ----------------------------------------------------------------

  # `effective`: config.nixcloud.monitoring with the automatic targets added
  # (module.nix's cfg), so nginx's, openssh's and postfix's targets are probed
  # too.
  module =
    effective:
    {
      config,
      lib,
      ...
    }:
    let
      inherit (lib) mkOption types literalExpression;
      mon = config.nixcloud.monitoring;
      # A machine that does not enable nixcloud.monitoring offers nothing.
      ifEnabled = value: empty: if mon.enable then value else empty;
      exporters = config.services.prometheus.exporters or { };
      node = exporters.node or { };
      # Wire the node exporter only when this machine has one.
      wire = mon.enable && builtins.elem "prometheus" mon.backends && (node.enable or false);
      readOnly =
        type: value: text: description:
        mkOption {
          inherit type description;
          readOnly = true;
          default = value;
          defaultText = literalExpression text;
        };
    in
    {
      options.nixcloud.monitoring.prometheus = {
        blackboxAddress = mkOption {
          type = types.str;
          default = "127.0.0.1:9115";
          description = ''
            host:port of the blackbox exporter on the Prometheus machine, which
            `scrapeConfigs` send the probes to.
          '';
        };
        dnsServer = mkOption {
          type = types.str;
          default = "127.0.0.1";
          description = ''
            DNS server the blackbox exporter asks for `check_dns` targets
            without `server` (blackbox needs one; 127.0.0.1 is the Prometheus
            machine's own resolver).
          '';
        };
        rules = readOnly (types.attrsOf types.anything)
          (ifEnabled (rules {
            cfg = effective;
            inherit (config.networking) hostName;
          }) { groups = [ ]; })
          "alert rules computed from nixcloud.monitoring.targets"
          ''
            Prometheus rule file (`{ groups = [ ... ]; }`) for a Prometheus
            machine that reads it from this machine's config: stale, CRITICAL,
            WARNING, UNKNOWN results of the prometheus backend's textfile,
            failed blackbox probes and certificate expiry (see nix/prometheus.nix
            and docs/config.md).
          '';
        scrapeConfigs = readOnly (types.listOf (types.attrsOf types.anything))
          (ifEnabled (scrapeConfigs {
            cfg = effective;
            inherit (config.networking) hostName;
            inherit (mon.prometheus) blackboxAddress;
          }) [ ])
          "blackbox scrape configs computed from nixcloud.monitoring.targets.active"
          ''
            Prometheus scrape_configs probing this machine's active targets
            through the blackbox exporter at `blackboxAddress`, one job per
            check kind, for a Prometheus machine that reads them from this
            machine's config.
          '';
        blackboxModules = readOnly (types.attrsOf types.anything) (ifEnabled (blackboxModules effective) { })
          "blackbox modules computed from nixcloud.monitoring.targets.active"
          ''
            The blackbox exporter's `modules` for `scrapeConfigs`, one per
            active target and address family.
          '';
      };

      config = lib.mkIf wire {
        services.prometheus.exporters.node = {
          enabledCollectors = [ "textfile" ];
          extraFlags = [ nodeExporterFlag ];
        };
        systemd.tmpfiles.rules = tmpfilesRules node.group;
        nixcloud.monitoring.prometheus.textfile = lib.mkDefault defaultTextfile;
      };
    };
}
