# nix/auto.nix: the targets nginx, openssh and postfix bring along.
let
  auto = import ../auto.nix;
  fx = import ./fixtures.nix;
  render = (import ../render.nix).renderConfig;

  # config.nixcloud.monitoring.auto with its defaults.
  switches = {
    enable = true;
    host = "web1.example.org";
    nginx = {
      enable = true;
      warningDays = 21;
    };
    openssh.enable = true;
    postfix.enable = true;
  };
  # A virtual host with nginx's defaults (vhost-options.nix) and ours.
  vhost =
    attrs:
    {
      serverName = null;
      serverAliases = [ ];
      forceSSL = false;
      onlySSL = false;
      addSSL = false;
      enableACME = false;
      useACMEHost = null;
      monitoring = true;
    }
    // attrs;
  nginx = virtualHosts: {
    enable = true;
    inherit virtualHosts;
  };
  off = {
    enable = false;
  };

  # (kind, host, name) of the automatic targets, in order.
  summary = map (t: "${t.kind} ${t.host}-${t.name}");
  ofServices =
    args:
    summary (
      auto.candidates (
        {
          auto = switches;
          nginx = off;
          openssh = off;
          postfix = off;
        }
        // args
      )
    );

  # The whole pipeline on the fixtures' base config.
  applied =
    cfg: args:
    auto.apply cfg (
      {
        auto = switches;
        nginx = off;
        openssh = off;
        postfix = off;
      }
      // args
    );
  activeIds =
    cfg:
    builtins.concatMap (
      kind: map (t: "${kind} ${t.host}-${t.name}") (cfg.targets.active.${kind} or [ ])
    ) (builtins.attrNames cfg.targets.active);

  web = nginx {
    "example.org" = vhost {
      serverAliases = [ "www.example.org" ];
      forceSSL = true;
      enableACME = true;
    };
    "plain.example.org" = vhost { };
  };
in
[
  # --- which names are public ------------------------------------------------
  {
    name = "public names";
    expr = map auto.isPublicName [
      "example.org"
      "www.example.org"
      "localhost"
      "_"
      ""
      "intranet"
      "*.example.org"
      "www.example.*"
      ".example.org"
      "~^www\\d+\\.example\\.net$"
      "192.0.2.1"
      "2001:db8::1"
      "[2001:db8::1]"
      "foo.localhost"
      "printer.local"
      "$host.example.org"
    ];
    expected = [
      true
      true
      false
      false
      false
      false
      false
      false
      false
      false
      false
      false
      false
      false
      false
      false
    ];
  }
  {
    name = "vhost names: serverName over the attribute name, aliases, no repeats, filtered";
    expr = [
      (auto.vhostNames "example.org" (vhost { }))
      (auto.vhostNames "site" (vhost { serverName = "site.example.org"; }))
      (auto.vhostNames "x.example.org" (vhost {
        serverAliases = [
          "www.x.example.org"
          "x.example.org"
          "*.x.example.org"
          "localhost"
        ];
      }))
      (auto.vhostNames "_" (vhost { }))
      (auto.vhostNames "localhost" (vhost { serverAliases = [ "127.0.0.1" ]; }))
    ];
    expected = [
      [ "example.org" ]
      [ "site.example.org" ]
      [
        "x.example.org"
        "www.x.example.org"
      ]
      [ ]
      [ ]
    ];
  }

  # --- TLS detection -----------------------------------------------------------
  {
    name = "TLS: forceSSL, onlySSL, addSSL, enableACME, useACMEHost";
    expr = map (a: auto.isTls (vhost a)) [
      { }
      { forceSSL = true; }
      { onlySSL = true; }
      { addSSL = true; }
      { enableACME = true; }
      { useACMEHost = "example.org"; }
    ];
    expected = [
      false
      true
      true
      true
      true
      true
    ];
  }

  # --- nginx -------------------------------------------------------------------
  {
    name = "nginx: http for every name, ssl for TLS hosts, aliases included";
    expr = ofServices { nginx = web; };
    expected = [
      "check_http example.org-HTTP"
      "check_ssl_cert example.org-SSL"
      "check_http www.example.org-HTTP"
      "check_ssl_cert www.example.org-SSL"
      "check_http plain.example.org-HTTP"
    ];
  }
  {
    name = "nginx: onlySSL gets only the certificate check";
    expr = ofServices {
      nginx = nginx {
        "secure.example.org" = vhost { onlySSL = true; };
      };
    };
    expected = [ "check_ssl_cert secure.example.org-SSL" ];
  }
  {
    name = "nginx: defaults of the targets (ports, warningDays 21, origin)";
    expr = auto.candidates {
      auto = switches;
      public = false;
      nginx = nginx { "example.org" = vhost { addSSL = true; }; };
    };
    expected = [
      (
        fx.http {
          host = "example.org";
          public = false;
          origin = "auto: services.nginx.virtualHosts.example.org";
        }
        // {
          kind = "check_http";
        }
      )
      (
        fx.ssl {
          host = "example.org";
          public = false;
          warningDays = 21;
          origin = "auto: services.nginx.virtualHosts.example.org";
        }
        // {
          kind = "check_ssl_cert";
        }
      )
    ];
  }
  {
    name = "auto.failureThreshold is every automatic target's; null leaves the top-level one";
    expr =
      map
        (
          a:
          map (t: t.failureThreshold) (
            auto.candidates {
              auto = switches // a;
              nginx = nginx { "example.org" = vhost { addSSL = true; }; };
              openssh = {
                enable = true;
                ports = [ 22 ];
              };
              postfix = {
                enable = true;
                enableSmtp = true;
                main = { };
              };
            }
          )
        )
        [
          { failureThreshold = 3; }
          { failureThreshold = null; }
        ];
    expected = [
      [ 3 3 3 3 ]
      [ null null null null ]
    ];
  }
  {
    name = "nginx: auto.nginx.warningDays is used";
    expr = map (t: t.warningDays) (
      auto.candidates {
        auto = switches // {
          nginx = {
            enable = true;
            warningDays = 10;
          };
        };
        nginx = nginx { "example.org" = vhost { onlySSL = true; }; };
      }
    );
    expected = [ 10 ];
  }
  {
    name = "nginx: monitoring = false leaves the host out";
    expr = ofServices {
      nginx = nginx {
        "example.org" = vhost { monitoring = false; };
        "b.example.org" = vhost { };
      };
    };
    expected = [ "check_http b.example.org-HTTP" ];
  }
  {
    name = "nginx: catch-all and local hosts bring nothing";
    expr = ofServices {
      nginx = nginx {
        "_" = vhost { };
        localhost = vhost { };
        "default" = vhost { serverName = "_"; forceSSL = true; };
        "10.0.0.1" = vhost { };
      };
    };
    expected = [ ];
  }
  {
    name = "nginx: disabled service brings nothing (its hosts are not even read)";
    expr = ofServices {
      nginx = {
        enable = false;
        virtualHosts = throw "read";
      };
    };
    expected = [ ];
  }

  # --- openssh -------------------------------------------------------------------
  {
    name = "openssh: one check_ssh per port on auto.host";
    expr = auto.candidates {
      auto = switches;
      openssh = {
        enable = true;
        ports = [
          22
          2222
        ];
      };
    };
    expected = [
      (
        fx.common
        // fx.families
        // {
          kind = "check_ssh";
          host = "web1.example.org";
          name = "SSH";
          port = 22;
          remoteVersion = "";
          timeout = 10;
          origin = "auto: services.openssh.ports";
        }
      )
      (
        fx.common
        // fx.families
        // {
          kind = "check_ssh";
          host = "web1.example.org";
          name = "SSH-2222";
          port = 2222;
          remoteVersion = "";
          timeout = 10;
          origin = "auto: services.openssh.ports";
        }
      )
    ];
  }
  {
    name = "openssh: disabled service brings nothing";
    expr = ofServices {
      openssh = {
        enable = false;
        ports = [ 22 ];
      };
    };
    expected = [ ];
  }

  # --- postfix -------------------------------------------------------------------
  {
    name = "postfix: STARTTLS from main.cf or the certificate (25.11 and 24.11 styles)";
    expr = map auto.postfixTls [
      { main = { }; }
      { main.smtpd_tls_security_level = "none"; }
      { main.smtpd_tls_security_level = "may"; }
      { main.smtpd_tls_security_level = "encrypt"; }
      { main.smtpd_tls_chain_files = [ "/var/lib/acme/mail/key.pem" "/var/lib/acme/mail/fullchain.pem" ]; }
      {
        main = {
          smtpd_tls_chain_files = [ "/k" "/c" ];
          smtpd_tls_security_level = "none";
        };
      }
      {
        main = { };
        sslCert = "/var/lib/acme/mail/cert.pem";
      }
      {
        main = { };
        sslCert = "";
      }
    ];
    expected = [
      false
      false
      true
      true
      true
      false
      true
      false
    ];
  }
  {
    name = "postfix: check_smtp on auto.host, port 25, starttls";
    expr = auto.candidates {
      auto = switches;
      postfix = {
        enable = true;
        enableSmtp = true;
        main.smtpd_tls_security_level = "may";
      };
    };
    expected = [
      (
        fx.common
        // fx.families
        // {
          kind = "check_smtp";
          host = "web1.example.org";
          name = "SMTP";
          port = 25;
          certificate = 1000;
          starttls = true;
          timeout = 10;
          origin = "auto: services.postfix";
        }
      )
    ];
  }
  {
    name = "postfix: enableSmtp = false or disabled brings nothing";
    expr = [
      (ofServices {
        postfix = {
          enable = true;
          enableSmtp = false;
          main = { };
        };
      })
      (ofServices {
        postfix = {
          enable = false;
          main = throw "read";
        };
      })
    ];
    expected = [
      [ ]
      [ ]
    ];
  }

  # --- switches ------------------------------------------------------------------
  {
    name = "switches: auto.enable = false turns everything off";
    expr = ofServices {
      auto = switches // {
        enable = false;
      };
      nginx = web;
      openssh = {
        enable = true;
        ports = [ 22 ];
      };
      postfix = {
        enable = true;
        enableSmtp = true;
        main = { };
      };
    };
    expected = [ ];
  }
  {
    name = "switches: one service off, the others on";
    expr = ofServices {
      auto = switches // {
        nginx.enable = false;
        postfix.enable = false;
      };
      nginx = web;
      openssh = {
        enable = true;
        ports = [ 22 ];
      };
      postfix = {
        enable = true;
        enableSmtp = true;
        main = { };
      };
    };
    expected = [ "check_ssh web1.example.org-SSH" ];
  }

  # --- merging with explicit targets -----------------------------------------------
  {
    name = "explicit wins: same id, silently; other kinds and names stay";
    expr = activeIds (
      applied
        (
          fx.base
          // {
            apiKeyFile = "/run/keys/k";
            targets = {
              active = fx.noTargets // {
                check_ssl_cert = [
                  (fx.ssl {
                    host = "example.org";
                    warningDays = 5;
                  })
                ];
              };
              passive = [
                (fx.passive {
                  host = "web1.example.org";
                  name = "SSH";
                })
              ];
            };
          }
        )
        {
          nginx = web;
          openssh = {
            enable = true;
            ports = [ 22 ];
          };
        }
    );
    # example.org-SSL is the explicit one; web1.example.org-SSH is passive
    expected = [
      "check_http example.org-HTTP"
      "check_http www.example.org-HTTP"
      "check_http plain.example.org-HTTP"
      "check_ssl_cert example.org-SSL"
      "check_ssl_cert www.example.org-SSL"
    ];
  }
  {
    name = "explicit wins: the explicit target keeps its settings and has no origin";
    expr =
      let
        cfg = applied (
          fx.base
          // {
            targets = {
              active = fx.noTargets // {
                check_ssl_cert = [
                  (fx.ssl {
                    host = "example.org";
                    warningDays = 5;
                  })
                ];
              };
              passive = [ ];
            };
          }
        ) { nginx = web; };
      in
      map (t: [
        t.host
        t.warningDays
        (t.origin or null)
      ]) cfg.targets.active.check_ssl_cert;
    expected = [
      [
        "example.org"
        5
        null
      ]
      [
        "www.example.org"
        21
        "auto: services.nginx.virtualHosts.example.org"
      ]
    ];
  }
  {
    name = "two virtual hosts with the same alias: the first one's target is kept";
    expr = ofServices {
      nginx = nginx {
        "a.example.org" = vhost { serverAliases = [ "shared.example.org" ]; };
        "b.example.org" = vhost { serverAliases = [ "shared.example.org" ]; };
      };
    };
    # candidates still lists both; apply keeps the first
    expected = [
      "check_http a.example.org-HTTP"
      "check_http shared.example.org-HTTP"
      "check_http b.example.org-HTTP"
      "check_http shared.example.org-HTTP"
    ];
  }
  {
    name = "two virtual hosts with the same alias: no duplicate after apply";
    expr = map (t: "${t.host} ${t.origin}") (
      (applied fx.base {
        nginx = nginx {
          "a.example.org" = vhost { serverAliases = [ "shared.example.org" ]; };
          "b.example.org" = vhost { serverAliases = [ "shared.example.org" ]; };
        };
      }).targets.active.check_http
    );
    expected = [
      "a.example.org auto: services.nginx.virtualHosts.a.example.org"
      "shared.example.org auto: services.nginx.virtualHosts.a.example.org"
      "b.example.org auto: services.nginx.virtualHosts.b.example.org"
    ];
  }
  {
    name = "nothing automatic: the config is unchanged";
    expr = applied fx.seed { };
    expected = fx.seed;
  }
  {
    name = "rendered: origin reaches the config file, explicit targets have none";
    expr =
      let
        file = render (
          applied fx.seed {
            nginx = nginx { "web.example.org" = vhost { }; };
          }
        );
      in
      map (t: [
        t.host
        (t.origin or null)
      ]) file.targets.active.check_http;
    expected = [
      [
        "nixcloud.io"
        null
      ]
      [
        "kotalla.de"
        null
      ]
      [
        "web.example.org"
        "auto: services.nginx.virtualHosts.web.example.org"
      ]
    ];
  }
  {
    name = "the automatic targets pass the module's assertions";
    expr = (import ../checks.nix).failedAssertions (
      applied fx.seed {
        nginx = web;
        openssh = {
          enable = true;
          ports = [
            22
            2222
          ];
        };
        postfix = {
          enable = true;
          enableSmtp = true;
          main = { };
        };
      }
    );
    expected = [ ];
  }
]
