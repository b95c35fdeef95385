# Several backends, the prometheus and healthchecks settings in the config
# file, and what nix/prometheus.nix computes: the node exporter's textfile
# directory, the units' write access to it, blackbox modules, scrape configs
# and alert rules. tests/prometheus/run.sh feeds the same values to the real
# promtool, node exporter and blackbox exporter.
let
  lib = import ../lib.nix;
  inherit (lib) renderConfig failedAssertions prometheus;
  f = import ./fixtures.nix;

  units =
    cfg: writablePaths:
    lib.units {
      inherit cfg writablePaths;
      exe = "/agent/bin/nixcloud-monitoring";
      configFile = "/nix/store/cfg-nixcloud-monitoring.toml";
    };

  withBackends =
    backends: extra:
    f.seed
    // {
      inherit backends;
    }
    // extra;

  textfile = "/var/lib/nixcloud-monitoring-textfile/nixcloud-monitoring.prom";
  promCfg = withBackends [ "nixcloud" "prometheus" ] { prometheus.textfile = textfile; };
  # Healthchecks runs no checks: its configs keep the seed's passive targets only.
  passiveOnly = f.seed.targets // {
    active = f.noTargets;
  };
  hcCfg = withBackends [ "healthchecks" ] {
    healthchecks = f.base.healthchecks // {
      apiKeyFile = "/run/keys/hc";
    };
    targets = passiveOnly;
  };

  # One active target of every kind.
  active = attrs: f.common // f.families // attrs;
  dns =
    attrs:
    active (
      {
        name = "DNS";
        server = "";
        timeout = 10;
        expected-address = "";
        expect-authority = "";
      }
      // attrs
    );
  ssh =
    attrs:
    active (
      {
        name = "SSH";
        port = 22;
        remoteVersion = "";
        timeout = 10;
      }
      // attrs
    );
  smtp =
    attrs:
    active (
      {
        name = "SMTP";
        port = 25;
        certificate = 1000;
        starttls = false;
        timeout = 10;
      }
      // attrs
    );
  allKinds = f.base // {
    prometheus = {
      textfile = null;
      dnsServer = "192.0.2.53";
    };
    targets = {
      passive = [ ];
      active = f.noTargets // {
        check_http = [
          (f.http {
            host = "www.example.org";
            url = "status";
            contains = "a.b (c)";
            ipv6 = false;
          })
          (f.http {
            host = "2001:db8::80";
            port = 443;
            ipv4 = false;
          })
        ];
        check_ssl_cert = [
          (f.ssl {
            host = "www.example.org";
            warningDays = 21;
            ipv6 = false;
          })
          (f.ssl {
            host = "old.example.org";
            ipv6 = false;
          })
        ];
        check_dns = [
          (dns {
            host = "example.org";
            expected-address = "192.0.2.2, 192.0.2.1";
            ipv6 = false;
          })
          (dns {
            host = "v6.example.org";
            server = "192.0.2.1";
            expected-address = "2001:db8::1";
            ipv4 = false;
          })
        ];
        check_ping = [ (f.ping { host = "gw.example.org"; }) ];
        check_ssh = [
          (ssh {
            host = "git.example.org";
            port = 2222;
            remoteVersion = "OpenSSH_9.6";
            ipv6 = false;
          })
        ];
        check_smtp = [
          (smtp {
            host = "mail.example.org";
            starttls = true;
            certificate = 14;
            ipv6 = false;
          })
        ];
        check_hydra = [
          (f.hydra {
            host = "https://hydra.example.org";
            name = "p_j";
            project = "p";
            jobset = "j";
          })
        ];
      };
    };
  };

  modules = prometheus.blackboxModules allKinds;
  scrape = prometheus.scrapeConfigs {
    cfg = allKinds;
    hostName = "web1";
  };
  jobOf = kind: builtins.head (builtins.filter (j: j.job_name == "nixcloud-monitoring-web1-${kind}") scrape);
  rules = prometheus.rules {
    cfg = allKinds;
    hostName = "web1";
  };
  relabel = [
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
      replacement = "127.0.0.1:9115";
    }
  ];
  noFallback4 = {
    preferred_ip_protocol = "ip4";
    ip_protocol_fallback = false;
  };
in
[
  # ---- the config file --------------------------------------------------------
  {
    name = "several backends render as `backends`, with the prometheus table";
    expr = builtins.intersectAttrs {
      backend = null;
      backends = null;
      prometheus = null;
      healthchecks = null;
      icinga2 = null;
    } (renderConfig promCfg);
    expected = {
      backends = [
        "nixcloud"
        "prometheus"
      ];
      prometheus.textfile = textfile;
    };
  }
  {
    name = "one backend in `backends` renders as `backend`; no textfile: no prometheus table";
    expr = builtins.intersectAttrs {
      backend = null;
      backends = null;
      prometheus = null;
    } (renderConfig (withBackends [ "prometheus" ] { }));
    expected = {
      backend = "prometheus";
    };
  }
  {
    name = "textfile set but prometheus not used: no prometheus table";
    expr = (renderConfig (f.seed // { prometheus.textfile = textfile; })) ? prometheus;
    expected = false;
  }
  {
    name = "healthchecks table only when used, nulls left out";
    expr = [
      (renderConfig hcCfg).healthchecks
      ((renderConfig (hcCfg // { healthchecks = hcCfg.healthchecks // { owner = "web1"; }; })).healthchecks)
      ((renderConfig (f.seed // { inherit (hcCfg) healthchecks; })) ? healthchecks)
      (renderConfig hcCfg).backend
    ];
    expected = [
      {
        url = "https://healthchecks.io";
        apiKeyFile = "/run/keys/hc";
      }
      {
        url = "https://healthchecks.io";
        apiKeyFile = "/run/keys/hc";
        owner = "web1";
      }
      false
      "healthchecks"
    ];
  }
  {
    name = "icinga2 table when icinga2 is one of several backends";
    expr =
      (renderConfig (
        withBackends [ "prometheus" "icinga2" ] {
          icinga2 = f.base.icinga2 // {
            url = "https://i:5665";
            user = "u";
            passwordFile = "/run/keys/i";
          };
        }
      )).icinga2;
    expected = {
      url = "https://i:5665";
      user = "u";
      passwordFile = "/run/keys/i";
    };
  }

  # ---- assertions and credentials ---------------------------------------------
  {
    name = "healthchecks without apiKeyFile, empty and repeated backends are refused";
    expr = [
      (failedAssertions (withBackends [ "healthchecks" ] { targets = passiveOnly; }))
      (failedAssertions (withBackends [ ] { }))
      (failedAssertions (withBackends [ "prometheus" "local" "prometheus" ] { }))
      (failedAssertions hcCfg)
    ];
    expected = [
      [ ''nixcloud.monitoring: backend "healthchecks" needs nixcloud.monitoring.healthchecks.apiKeyFile.'' ]
      [ "nixcloud.monitoring.backends is empty; name at least one backend." ]
      [ "nixcloud.monitoring.backends names prometheus more than once." ]
      [ ]
    ];
  }
  {
    name = "the nixcloud key is required only when nixcloud is one of the backends";
    expr = [
      (builtins.length (failedAssertions (withBackends [ "prometheus" "nixcloud" ] { apiKey = null; })))
      (builtins.length (failedAssertions (withBackends [ "prometheus" "local" ] { apiKey = null; })))
    ];
    expected = [
      1
      0
    ];
  }
  {
    name = "credentials: healthchecks-api-key, api-key only with nixcloud among the backends";
    expr = map (cfg: (units cfg [ ]).services."nixcloud.monitoring-register".serviceConfig.LoadCredential or null) [
      hcCfg
      (hcCfg // { backends = [ "healthchecks" "nixcloud" ]; apiKey = null; apiKeyFile = "/run/keys/n"; })
      (withBackends [ "prometheus" ] { apiKey = null; apiKeyFile = "/run/keys/n"; })
    ];
    expected = [
      [ "healthchecks-api-key:/run/keys/hc" ]
      [ "api-key:/run/keys/n" "healthchecks-api-key:/run/keys/hc" ]
      null
    ];
  }

  # ---- the node exporter's textfile directory -----------------------------------
  {
    name = "textfile directory: tmpfiles line, node exporter flag, default textfile";
    expr = [
      (prometheus.tmpfilesRules "node-exporter")
      prometheus.nodeExporterFlag
      prometheus.defaultTextfile
    ];
    expected = [
      [ "d /var/lib/nixcloud-monitoring-textfile 2750 nixcloud-monitoring node-exporter - -" ]
      "--collector.textfile.directory=/var/lib/nixcloud-monitoring-textfile"
      "/var/lib/nixcloud-monitoring-textfile/nixcloud-monitoring.prom"
    ];
  }
  {
    name = "writable paths: the textfile's directory, only when needed";
    expr = map prometheus.writablePaths [
      promCfg
      (promCfg // { prometheus.textfile = "/srv/metrics/x.prom"; })
      (promCfg // { prometheus.textfile = "/var/lib/nixcloud-monitoring/prometheus/x.prom"; })
      (promCfg // { prometheus.textfile = null; })
      (f.seed // { prometheus.textfile = textfile; })
    ];
    expected = [
      [ "/var/lib/nixcloud-monitoring-textfile" ]
      [ "-/srv/metrics" ]
      [ ]
      [ ]
      [ ]
    ];
  }
  {
    name = "every unit may write the writable paths (ReadWritePaths), none without";
    expr =
      let
        scripted = f.scripted // {
          backends = [ "prometheus" ];
        };
        u = units scripted [ "/var/lib/nixcloud-monitoring-textfile" ];
        d = units (scripted // { mode = "daemon"; }) [ "/var/lib/nixcloud-monitoring-textfile" ];
        plain = units scripted [ ];
      in
      [
        (builtins.attrNames u.services)
        (map (s: s.serviceConfig.ReadWritePaths or null) (builtins.attrValues u.services))
        (map (s: s.serviceConfig.ReadWritePaths or null) (builtins.attrValues d.services))
        (builtins.any (s: s.serviceConfig ? ReadWritePaths) (builtins.attrValues plain.services))
      ];
    expected = [
      [
        "nixcloud.monitoring-flush"
        "nixcloud.monitoring-passive-result-2001_db8__1-PING"
        "nixcloud.monitoring-passive-result-db.example.org-backup"
        "nixcloud.monitoring-register"
      ]
      [
        [ "/var/lib/nixcloud-monitoring-textfile" ]
        [ "/var/lib/nixcloud-monitoring-textfile" ]
        [ "/var/lib/nixcloud-monitoring-textfile" ]
        [ "/var/lib/nixcloud-monitoring-textfile" ]
      ]
      [ [ "/var/lib/nixcloud-monitoring-textfile" ] ]
      false
    ];
  }

  # ---- blackbox modules ---------------------------------------------------------
  {
    name = "blackbox module names: one per active target and family, none for hydra";
    expr = builtins.attrNames modules;
    expected = [
      "nixcloud_2001_db8__80-HTTP_ip6"
      "nixcloud_example.org-DNS_ip4"
      "nixcloud_git.example.org-SSH_ip4"
      "nixcloud_gw.example.org-PING_ip4"
      "nixcloud_gw.example.org-PING_ip6"
      "nixcloud_mail.example.org-SMTP_ip4"
      "nixcloud_old.example.org-SSL_ip4"
      "nixcloud_v6.example.org-DNS_ip6"
      "nixcloud_www.example.org-HTTP_ip4"
      "nixcloud_www.example.org-SSL_ip4"
    ];
  }
  {
    name = "check_http: contains as a quoted regexp; without contains no body check";
    expr = [
      modules."nixcloud_www.example.org-HTTP_ip4"
      modules."nixcloud_2001_db8__80-HTTP_ip6"
    ];
    expected = [
      {
        prober = "http";
        timeout = "10s";
        http = noFallback4 // {
          fail_if_body_not_matches_regexp = [ "a\\.b \\(c\\)" ];
        };
      }
      {
        prober = "http";
        timeout = "10s";
        http = {
          preferred_ip_protocol = "ip6";
          ip_protocol_fallback = false;
        };
      }
    ];
  }
  {
    name = "check_ssl_cert: tcp with tls and the host as server name";
    expr = modules."nixcloud_www.example.org-SSL_ip4";
    expected = {
      prober = "tcp";
      timeout = "15s";
      tcp = noFallback4 // {
        tls = true;
        tls_config.server_name = "www.example.org";
      };
    };
  }
  {
    name = "check_dns: every expected address and nothing else; AAAA for IPv6 addresses";
    expr = [
      modules."nixcloud_example.org-DNS_ip4"
      modules."nixcloud_v6.example.org-DNS_ip6".dns.query_type
    ];
    expected = [
      {
        prober = "dns";
        timeout = "10s";
        dns = noFallback4 // {
          query_name = "example.org";
          query_type = "A";
          validate_answer_rrs = {
            fail_if_not_matches_regexp = [ "\\t(192\\.0\\.2\\.2|192\\.0\\.2\\.1)$" ];
            fail_if_none_matches_regexp = [
              "\\t192\\.0\\.2\\.2$"
              "\\t192\\.0\\.2\\.1$"
            ];
          };
        };
      }
      "AAAA"
    ];
  }
  {
    name = "check_ping: icmp; check_ssh: the banner with remoteVersion";
    expr = [
      modules."nixcloud_gw.example.org-PING_ip6"
      modules."nixcloud_git.example.org-SSH_ip4"
    ];
    expected = [
      {
        prober = "icmp";
        timeout = "10s";
        icmp = {
          preferred_ip_protocol = "ip6";
          ip_protocol_fallback = false;
        };
      }
      {
        prober = "tcp";
        timeout = "10s";
        tcp = noFallback4 // {
          query_response = [ { expect = "^SSH-(1\\.99|2\\.0)-OpenSSH_9\\.6(\\s|$)"; } ];
        };
      }
    ];
  }
  {
    name = "check_smtp with starttls: banner, EHLO, STARTTLS, TLS, QUIT";
    expr = modules."nixcloud_mail.example.org-SMTP_ip4".tcp.query_response;
    expected = [
      { expect = "^220[ -]"; }
      { send = "EHLO nixcloud-monitoring\r"; }
      { expect = "^250[ -]STARTTLS"; }
      { send = "STARTTLS\r"; }
      { expect = "^220"; }
      { starttls = true; }
      { send = "EHLO nixcloud-monitoring\r"; }
      { expect = "^250 "; }
      { send = "QUIT\r"; }
    ];
  }

  # ---- scrape configs -------------------------------------------------------------
  {
    name = "one job per kind with probes (none for hydra), named after the machine";
    expr = map (j: j.job_name) scrape;
    expected = map (k: "nixcloud-monitoring-web1-${k}") [
      "check_http"
      "check_ssl_cert"
      "check_dns"
      "check_ping"
      "check_smtp"
      "check_ssh"
    ];
  }
  {
    name = "check_http job: URLs, module and labels per probe, relabeled to the blackbox exporter";
    expr = jobOf "check_http";
    expected = {
      job_name = "nixcloud-monitoring-web1-check_http";
      metrics_path = "/probe";
      scrape_interval = "1m";
      scrape_timeout = "11s";
      static_configs = [
        {
          targets = [ "http://www.example.org:80/status" ];
          labels = {
            __param_module = "nixcloud_www.example.org-HTTP_ip4";
            target = "www.example.org-HTTP";
            host = "www.example.org";
            service = "HTTP";
            family = "ip4";
          };
        }
        {
          targets = [ "https://[2001:db8::80]:443/" ];
          labels = {
            __param_module = "nixcloud_2001_db8__80-HTTP_ip6";
            target = "2001:db8::80-HTTP";
            host = "2001:db8::80";
            service = "HTTP";
            family = "ip6";
          };
        }
      ];
      relabel_configs = relabel;
    };
  }
  {
    name = "probe addresses: dns at server (dnsServer when empty), ping the host, tcp host:port";
    expr = map (k: map (s: builtins.head s.targets) (jobOf k).static_configs) [
      "check_dns"
      "check_ping"
      "check_ssh"
      "check_smtp"
      "check_ssl_cert"
    ];
    expected = [
      [ "192.0.2.53" "192.0.2.1" ]
      [ "gw.example.org" "gw.example.org" ]
      [ "git.example.org:2222" ]
      [ "mail.example.org:25" ]
      [ "www.example.org:443" "old.example.org:443" ]
    ];
  }
  {
    name = "blackboxAddress is where the scrapes go; scrape_timeout covers the slowest probe";
    expr =
      let
        j = builtins.head (
          prometheus.scrapeConfigs {
            cfg = allKinds;
            hostName = "h";
            blackboxAddress = "10.0.0.5:9115";
          }
        );
      in
      [
        (builtins.elemAt j.relabel_configs 2)
        (jobOf "check_ssl_cert").scrape_timeout
      ];
    expected = [
      {
        target_label = "__address__";
        replacement = "10.0.0.5:9115";
      }
      "16s"
    ];
  }

  # ---- rules ------------------------------------------------------------------------
  {
    name = "rule groups: the generic one and this machine's certificate thresholds";
    expr = [
      (map (g: g.name) rules.groups)
      (map (r: r.alert) (builtins.head rules.groups).rules)
      (map (g: g.name) (prometheus.rules { cfg = f.base; hostName = "web1"; }).groups)
    ];
    expected = [
      [ "nixcloud-monitoring" "nixcloud-monitoring-certificates-web1" ]
      [
        "NixcloudMonitoringStale"
        "NixcloudMonitoringCritical"
        "NixcloudMonitoringWarning"
        "NixcloudMonitoringUnknown"
        "NixcloudMonitoringProbeFailed"
      ]
      [ "nixcloud-monitoring" ]
    ];
  }
  {
    name = "stale and state alerts: exact expressions";
    expr = map (r: r.expr) (builtins.head rules.groups).rules;
    expected = [
      "(time() - nixcloud_monitoring_last_result_timestamp_seconds > nixcloud_monitoring_timeout_seconds) or ((time() - nixcloud_monitoring_registered_timestamp_seconds > nixcloud_monitoring_timeout_seconds) unless nixcloud_monitoring_last_result_timestamp_seconds)"
      "(nixcloud_monitoring_state == 2) unless (nixcloud_monitoring_failures_in_a_row < nixcloud_monitoring_failure_threshold)"
      "(nixcloud_monitoring_state == 1) unless (nixcloud_monitoring_failures_in_a_row < nixcloud_monitoring_failure_threshold)"
      "(nixcloud_monitoring_state == 3) unless (nixcloud_monitoring_failures_in_a_row < nixcloud_monitoring_failure_threshold)"
      ''probe_success{job=~"nixcloud-monitoring-.*",failure_threshold=""} == 0''
    ];
  }
  (
    let
      # Two pings at 3 (one its own, one the top-level default), one at 1,
      # an SSH at 5.
      cfg = f.base // {
        failureThreshold = 3;
        targets = f.seed.targets // {
          passive = [ ];
          active = f.noTargets // {
            check_ping = [
              (f.ping { host = "a"; })
              (f.ping {
                host = "b";
                failureThreshold = 1;
              })
              (f.ping {
                host = "c";
                failureThreshold = 3;
              })
            ];
            check_ssh = [
              (ssh {
                host = "d";
                failureThreshold = 5;
              })
            ];
          };
        };
      };
      scrape = prometheus.scrapeConfigs {
        inherit cfg;
        hostName = "web1";
      };
      groups = (prometheus.rules {
        inherit cfg;
        hostName = "web1";
      }).groups;
      jobs = "nixcloud-monitoring-web1-check_http|nixcloud-monitoring-web1-check_ssl_cert|nixcloud-monitoring-web1-check_dns|nixcloud-monitoring-web1-check_ping|nixcloud-monitoring-web1-check_smtp|nixcloud-monitoring-web1-check_ssh|nixcloud-monitoring-web1-check_hydra";
    in
    {
      name = "failureThreshold above 1: a probe label and one rule per threshold with for = (N - 1) minutes";
      expr = [
        (map (j: map (s: [ s.labels.target s.labels.family (s.labels.failure_threshold or null) ]) j.static_configs) scrape)
        (map (g: g.name) groups)
        (map (r: [ r.expr r."for" r.annotations.summary ]) (builtins.elemAt groups 1).rules)
      ];
      expected = [
        [
          [
            [ "a-PING" "ip4" "3" ]
            [ "a-PING" "ip6" "3" ]
            [ "b-PING" "ip4" null ]
            [ "b-PING" "ip6" null ]
            [ "c-PING" "ip4" "3" ]
            [ "c-PING" "ip6" "3" ]
          ]
          [
            [ "d-SSH" "ip4" "5" ]
            [ "d-SSH" "ip6" "5" ]
          ]
        ]
        [ "nixcloud-monitoring" "nixcloud-monitoring-probes-web1" ]
        [
          [
            ''probe_success{job=~"${jobs}",failure_threshold="3"} == 0''
            "2m"
            "{{ $labels.service }} on {{ $labels.host }} ({{ $labels.family }}): the probe failed 3 times in a row"
          ]
          [
            ''probe_success{job=~"${jobs}",failure_threshold="5"} == 0''
            "4m"
            "{{ $labels.service }} on {{ $labels.host }} ({{ $labels.family }}): the probe failed 5 times in a row"
          ]
        ]
      ];
    }
  )
  {
    name = "certificate expiry: warningDays and SMTP certificate in seconds, 1000 means none";
    expr = map (r: r.expr) (builtins.elemAt rules.groups 1).rules;
    expected = [
      ''probe_ssl_earliest_cert_expiry{job="nixcloud-monitoring-web1-check_ssl_cert",target="www.example.org-SSL"} - time() < 1814400''
      ''probe_ssl_earliest_cert_expiry{job="nixcloud-monitoring-web1-check_smtp",target="mail.example.org-SMTP"} - time() < 1209600''
    ];
  }
]
