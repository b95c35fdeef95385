# Evaluated-config fixtures for the pure-helper tests: attrsets shaped like
# `config.nixcloud.monitoring` after NixOS filled in the defaults. The
# defaults are written out here on purpose (no nixpkgs in CI); whether the
# options really have them is checked by eval-module.sh with the real lib.
rec {
  common = {
    host = "";
    tags = [ ];
    public = true;
    apiKey = null;
    apiKeyFile = null;
    # Every active kind and passive targets have it.
    failureThreshold = null;
  };
  families = {
    ipv4 = true;
    ipv6 = true;
  };

  http =
    attrs:
    common
    // families
    // {
      name = "HTTP";
      port = 80;
      url = "";
      contains = "";
    }
    // attrs;
  ssl =
    attrs:
    common
    // families
    // {
      name = "SSL";
      port = 443;
      warningDays = 1000;
      timeout = 15;
    }
    // attrs;
  ping =
    attrs:
    common
    // families
    // {
      name = "PING";
      warning = "10,2%";
      critical = "20,5%";
      timeout = 10;
    }
    // attrs;
  hydra =
    attrs:
    common
    // families
    // {
      project = "";
      jobset = "";
    }
    // attrs;
  passive =
    attrs:
    common
    // {
      script = "";
      timers = {
        check = null;
        timeout = null;
        calendar = null;
        grace = null;
      };
      scriptTimeout = null;
      failureThreshold = null;
      notify = {
        enable = null;
        successThreshold = null;
        recovery = null;
        repeat = null;
      };
      path = [ ];
      serviceConfig = { };
    }
    // attrs;

  # A notify channel with every key unset (one submodule holds all four types' keys).
  channel =
    attrs:
    {
      to = [ ];
      from = null;
      command = null;
      host = null;
      port = null;
      tls = null;
      user = null;
      passwordFile = null;
      caFile = null;
      url = null;
      urlFile = null;
      topic = null;
      tokenFile = null;
      format = null;
    }
    // attrs;

  noTargets = {
    check_http = [ ];
    check_ssl_cert = [ ];
    check_dns = [ ];
    check_ping = [ ];
    check_smtp = [ ];
    check_ssh = [ ];
    check_hydra = [ ];
  };

  base = {
    enable = true;
    mode = "timers";
    package = "/nix/store/fake-agent";
    backend = "nixcloud";
    apiKey = null;
    apiKeyFile = null;
    apiHost = "https://status.nixcloud.io";
    public = true;
    failureThreshold = 1;
    notify = {
      successThreshold = 1;
      recovery = true;
      repeat = 0;
      window = 30;
      channels = { };
    };
    queue = {
      maxCount = 10000;
      maxBytes = 67108864;
    };
    delivery = {
      attempts = 3;
      timeout = 30;
      concurrency = 16;
    };
    icinga2 = {
      url = null;
      user = null;
      passwordFile = null;
      caFile = null;
      serverName = null;
      owner = null;
    };
    # `backends` is left out: NixOS defaults it to [ backend ], and the helpers
    # read `cfg.backends or [ cfg.backend ]`, so `base // { backend = "local"; }`
    # means what it says.
    prometheus.textfile = null;
    page = {
      dir = null;
      showOutput = true;
    };
    healthchecks = {
      url = "https://healthchecks.io";
      apiKeyFile = null;
      owner = null;
    };
    targets = {
      active = noTargets;
      passive = [ ];
    };
  };

  # The 2018 README's example, as NixOS evaluates it.
  seed = base // {
    apiKey = "4d3c5jdl-3kv6-6c92-43c2-bddcd6949e41";
    targets = {
      active = noTargets // {
        check_ssl_cert = [
          (ssl { host = "example.org"; })
          (ssl { host = "nixcloud.io"; })
          (ssl { host = "fractalide.com"; })
        ];
        check_http = [
          (http {
            host = "nixcloud.io";
            url = "/main/en";
            contains = "individual";
          })
          (http {
            host = "kotalla.de";
            contains = "Aktuelles";
          })
        ];
      };
      passive = [
        (passive {
          host = "mail.lastlog.de";
          name = "sometest";
          timers = {
            check = 600;
            timeout = 660;
          };
        })
      ];
    };
  };

  # With a key file, a scripted passive target with its own key file and a
  # loosened sandbox, and a Hydra target whose id needs escaping.
  scripted = base // {
    apiKeyFile = "/run/keys/nixcloud";
    targets = {
      active = noTargets // {
        check_hydra = [
          (hydra {
            host = "https://hydra.nixos.org";
            project = "nixpkgs";
            jobset = "trunk";
            name = "nixpkgs_trunk";
          })
        ];
      };
      passive = [
        (passive {
          host = "db.example.org";
          name = "backup";
          script = "exit=0; status=ok";
          apiKeyFile = "/run/keys/team-b";
          timers = {
            check = 5;
            timeout = 15;
          };
          path = [ "/nix/store/fake-restic" ];
          serviceConfig = {
            ProtectHome = "read-only";
          };
        })
        (passive {
          host = "2001:db8::1";
          name = "PING";
          script = "exit=0";
          scriptTimeout = 30;
        })
      ];
    };
  };
}
