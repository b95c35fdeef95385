# Rendering the evaluated options into the config file's attrset
# (nix/render.nix), against docs/config.md.
let
  inherit (import ../lib.nix) renderConfig;
  f = import ./fixtures.nix;
  seed = renderConfig f.seed;
  scripted = renderConfig f.scripted;
in
[
  {
    name = "seed example renders exactly the documented keys";
    expr = seed;
    expected = {
      backend = "nixcloud";
      apiHost = "https://status.nixcloud.io";
      apiKey = "4d3c5jdl-3kv6-6c92-43c2-bddcd6949e41";
      public = true;
      failureThreshold = 1;
      stateDir = "/var/lib/nixcloud-monitoring";
      queue = {
        maxCount = 10000;
        maxBytes = 67108864;
      };
      delivery = {
        attempts = 3;
        timeout = 30;
        concurrency = 16;
      };
      targets = {
        active = {
          check_ssl_cert = map (host: {
            inherit host;
            name = "SSL";
            port = 443;
            warningDays = 1000;
            timeout = 15;
            tags = [ ];
            public = true;
            ipv4 = true;
            ipv6 = true;
          }) [ "example.org" "nixcloud.io" "fractalide.com" ];
          check_http = [
            {
              host = "nixcloud.io";
              name = "HTTP";
              port = 80;
              url = "/main/en";
              contains = "individual";
              tags = [ ];
              public = true;
              ipv4 = true;
              ipv6 = true;
            }
            {
              host = "kotalla.de";
              name = "HTTP";
              port = 80;
              url = "";
              contains = "Aktuelles";
              tags = [ ];
              public = true;
              ipv4 = true;
              ipv6 = true;
            }
          ];
        };
        passive = [
          {
            host = "mail.lastlog.de";
            name = "sometest";
            script = "";
            timers = {
              check = 600;
              timeout = 660;
            };
            tags = [ ];
            public = true;
          }
        ];
      };
    };
  }
  {
    name = "no null anywhere (TOML has none)";
    expr =
      let
        nulls =
          v:
          if v == null then
            1
          else if builtins.isAttrs v then
            builtins.foldl' (n: x: n + nulls x) 0 (builtins.attrValues v)
          else if builtins.isList v then
            builtins.foldl' (n: x: n + nulls x) 0 v
          else
            0;
      in
      nulls seed + nulls scripted;
    expected = 0;
  }
  {
    name = "module-only keys never reach the file";
    expr = map (t: builtins.attrNames t) scripted.targets.passive;
    expected = [
      [ "apiKeyFile" "host" "name" "public" "script" "tags" "timers" ]
      [ "host" "name" "public" "script" "scriptTimeout" "tags" "timers" ]
    ];
  }
  {
    name = "top level: apiKeyFile as a path string, no apiKey, no module-only options";
    expr = builtins.attrNames scripted;
    expected = [ "apiHost" "apiKeyFile" "backend" "delivery" "failureThreshold" "public" "queue" "stateDir" "targets" ];
  }
  {
    name = "empty kinds are left out";
    expr = builtins.attrNames scripted.targets.active;
    expected = [ "check_hydra" ];
  }
  {
    name = "no targets at all: no targets table";
    expr = (renderConfig f.base) ? targets;
    expected = false;
  }
  {
    name = "icinga2 table only with backend icinga2, without nulls";
    expr = [
      ((renderConfig (f.base // { icinga2 = f.base.icinga2 // { url = "https://i:5665"; }; })) ? icinga2)
      (renderConfig (
        f.base
        // {
          backend = "icinga2";
          icinga2 = f.base.icinga2 // {
            url = "https://127.0.0.1:5665";
            user = "mon";
            passwordFile = "/run/keys/icinga";
          };
        }
      )).icinga2
    ];
    expected = [
      false
      {
        url = "https://127.0.0.1:5665";
        user = "mon";
        passwordFile = "/run/keys/icinga";
      }
    ];
  }
  {
    name = "_module of submodules is stripped (targets and timers)";
    expr =
      (renderConfig (
        f.base
        // {
          targets = {
            active = f.noTargets;
            passive = [
              (f.passive {
                host = "h";
                name = "n";
                _module = { };
                timers = {
                  check = 1;
                  timeout = 2;
                  _module = { };
                };
              })
            ];
          };
        }
      )).targets.passive;
    expected = [
      {
        host = "h";
        name = "n";
        script = "";
        tags = [ ];
        public = true;
        timers = {
          check = 1;
          timeout = 2;
        };
      }
    ];
  }
]
