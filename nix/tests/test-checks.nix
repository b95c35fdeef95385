# Assertions and warnings (nix/checks.nix): which fire, and that their
# messages name the offending targets.
let
  inherit (import ../lib.nix)
    failedAssertions
    warnings
    duplicateIds
    escapeCollisions
    inventory
    ;
  f = import ./fixtures.nix;
  inherit (f) seed;

  # seed with more targets added, as a second module would
  withPassive = extra: seed // { targets = seed.targets // { passive = seed.targets.passive ++ extra; }; };
  withActive =
    kind: extra:
    seed
    // {
      targets = seed.targets // {
        active = seed.targets.active // { ${kind} = seed.targets.active.${kind} ++ extra; };
      };
    };

  has = needle: haystack: builtins.match ".*${needle}.*" haystack != null;
  failCount = cfg: builtins.length (failedAssertions cfg);
  firstFailure =
    cfg:
    let
      failed = failedAssertions cfg;
    in
    if failed == [ ] then "<no assertion failed>" else builtins.head failed;
in
[
  {
    name = "seed example passes every assertion";
    expr = failedAssertions seed;
    expected = [ ];
  }
  {
    name = "seed example warns about the inline apiKey";
    expr = map (has "apiKeyFile") (warnings seed);
    expected = [ true ];
  }
  {
    name = "no warnings with apiKeyFile";
    expr = warnings f.scripted;
    expected = [ ];
  }
  {
    name = "duplicateIds lists ids and kinds";
    expr = duplicateIds (
      inventory.allTargets (withActive "check_http" [ (f.http { host = "kotalla.de"; }) ])
    );
    expected = [
      {
        id = "kotalla.de-HTTP";
        kinds = [ "check_http" "check_http" ];
      }
    ];
  }
  {
    name = "duplicate across active and passive is caught and listed";
    expr =
      let
        cfg = withPassive [ (f.passive { host = "nixcloud.io"; name = "SSL"; }) ];
      in
      [
        (failCount cfg)
        (has "nixcloud.io-SSL [(]check_ssl_cert, passive[)]" (firstFailure cfg))
      ];
    expected = [ 1 true ];
  }
  {
    name = "escape collisions are an error like duplicates";
    expr =
      let
        cfg = withPassive [
          (f.passive { host = "a:b"; name = "x"; })
          (f.passive { host = "a/b"; name = "x"; })
        ];
      in
      [
        (escapeCollisions (inventory.allTargets cfg))
        (has "a_b-x" (firstFailure cfg))
      ];
    expected = [
      [
        {
          escaped = "a_b-x";
          ids = [ "a/b-x" "a:b-x" ];
        }
      ]
      true
    ];
  }
  {
    name = "both address families off";
    expr =
      let
        cfg = withActive "check_ping" [ (f.ping { host = "example.net"; ipv4 = false; ipv6 = false; }) ];
      in
      [
        (failCount cfg)
        (has "example.net-PING" (firstFailure cfg))
      ];
    expected = [ 1 true ];
  }
  {
    name = "timers.check >= timers.timeout";
    expr =
      let
        cfg = withPassive [
          (f.passive {
            host = "db";
            name = "backup";
            timers = {
              check = 60;
              timeout = 60;
            };
          })
        ];
      in
      [
        (failCount cfg)
        (has "db-backup: check = 60, timeout = 60" (firstFailure cfg))
      ];
    expected = [ 1 true ];
  }
  {
    name = "no key at all";
    expr =
      let
        cfg = seed // { apiKey = null; };
      in
      [
        (failCount cfg)
        (has "no API key" (firstFailure cfg))
        (has "mail.lastlog.de-sometest" (firstFailure cfg))
      ];
    expected = [ 1 true true ];
  }
  {
    name = "no global key is fine for backend local and icinga2";
    expr = map failCount [
      (seed // { apiKey = null; backend = "local"; })
      (seed // {
        apiKey = null;
        backend = "icinga2";
        icinga2 = seed.icinga2 // { url = "https://i"; user = "u"; passwordFile = "/run/keys/p"; };
      })
    ];
    expected = [ 0 0 ];
  }
  {
    name = "no global key is fine when every target has its own";
    expr =
      let
        own = t: t // { apiKeyFile = "/run/keys/own"; };
      in
      failCount (
        seed
        // {
          apiKey = null;
          targets = {
            active = builtins.mapAttrs (_: map own) seed.targets.active;
            passive = map own seed.targets.passive;
          };
        }
      );
    expected = 0;
  }
  {
    name = "apiKey and apiKeyFile together are refused";
    expr = failedAssertions (seed // { apiKeyFile = "/run/keys/k"; });
    expected = [ "nixcloud.monitoring: set either apiKey or apiKeyFile, not both (apiKeyFile is preferred)." ];
  }
  {
    name = "icinga2 backend needs url, user and passwordFile";
    expr = has "icinga2.url, nixcloud.monitoring.icinga2.passwordFile" (
      firstFailure (seed // { backend = "icinga2"; icinga2 = seed.icinga2 // { user = "u"; }; })
    );
    expected = true;
  }
  {
    name = "active targets with healthchecks as the only backend are refused, naming them";
    expr = failedAssertions (
      seed
      // {
        targets = seed.targets // {
          active = f.noTargets // {
            check_http = [ (f.http { host = "web"; }) ];
          };
        };
        backend = "healthchecks";
        healthchecks = seed.healthchecks // { apiKeyFile = "/run/keys/hc"; };
      }
    );
    expected = [
      ''
        nixcloud.monitoring: Healthchecks does not run checks, it only waits for pings, so
        these active targets need another backend that runs them (backends = [ "healthchecks"
        "icinga2" ], or "prometheus" with the blackbox exporter), or must become passive
        targets with a script:
          - web-HTTP''
    ];
  }
  {
    name = "empty host is refused, naming the target";
    expr = failedAssertions (withActive "check_http" [ (f.http { }) ]);
    expected = [
      ''
        nixcloud.monitoring: every target needs a non-empty `host` and `name`:
          - check_http target host = "", name = "HTTP"''
    ];
  }
  {
    name = "a newline or tab in host or name is refused, naming the target";
    expr = failedAssertions (
      withPassive [
        (f.passive { host = "db\nexample"; name = "backup"; })
        (f.passive { host = "db"; name = "x\ty"; })
      ]
    );
    expected = [
      ''
        nixcloud.monitoring: a target's `host` and `name` must not contain control characters
        (a newline, a tab, ...), bidirectional controls or line separators (shown here as "_"):
          - passive target host = "db_example", name = "backup"
          - passive target host = "db", name = "x_y"''
    ];
  }
  {
    name = "DEL and other C0 characters count as control characters";
    expr = failCount (
      withPassive [
        (f.passive { host = "a${builtins.fromJSON ''"\u007f"''}"; name = "n"; })
        (f.passive { host = "b${builtins.fromJSON ''"\u001b"''}"; name = "n"; })
      ]
    );
    expected = 1;
  }
  {
    # The agent's set (src/config/limits.rs): U+202E shows a name backwards, U+2028 and
    # U+0085 break a log line, U+009B is a C1 control; U+00A0 and U+200D are fine.
    name = "bidirectional controls, line separators and C1 controls are refused like control characters";
    expr =
      let
        c = cp: builtins.fromJSON ''"\u${cp}"'';
        one = cp: failCount (withPassive [ (f.passive { host = "h"; name = "a${c cp}b"; }) ]);
      in
      map one [ "202e" "2028" "2029" "0085" "009b" "061c" "2066" "00a0" "200d" "00e9" ];
    expected = [ 1 1 1 1 1 1 1 0 0 0 ];
  }
  {
    name = "a bidirectional control is shown as _ in the message";
    expr = has "name = \"a_b\"" (
      firstFailure (withPassive [ (f.passive { host = "h"; name = "a${builtins.fromJSON ''"\u202e"''}b"; }) ])
    );
    expected = true;
  }
  {
    name = "with healthchecks, ids longer than 100 characters are refused (characters, not bytes)";
    expr =
      let
        hc = targets: seed // {
          targets = seed.targets // { active = f.noTargets; passive = targets; };
          backend = "healthchecks";
          healthchecks = seed.healthchecks // { apiKeyFile = "/run/keys/hc"; };
        };
        name = n: builtins.concatStringsSep "" (builtins.genList (_: "é") n);
      in
      [
        (failedAssertions (hc [ (f.passive { host = "h"; name = name 99; }) ]))
        (failedAssertions (hc [ (f.passive { host = "h"; name = name 98; }) ]))
        (failedAssertions (seed // { targets = seed.targets // { passive = [ (f.passive { host = "h"; name = name 99; }) ]; }; }))
      ];
    expected = [
      [
        ''
          nixcloud.monitoring: Healthchecks names each check by target id and takes at most 100 characters; these ids are longer:
            - h-${builtins.concatStringsSep "" (builtins.genList (_: "é") 99)}''
      ]
      [ ]
      [ ]
    ];
  }
  {
    name = "overlong ids are refused, naming them";
    expr = failedAssertions (withPassive [ (f.passive { host = builtins.concatStringsSep "" (builtins.genList (_: "h") 200); name = "x"; }) ]);
    expected = [
      ''
        nixcloud.monitoring: target ids longer than 200 characters cannot become unit names:
          - ${builtins.concatStringsSep "" (builtins.genList (_: "h") 200)}-x''
    ];
  }
  {
    name = "long lists in messages are cut after 20 lines";
    expr =
      let
        many = builtins.genList (i: f.passive { host = "h${toString i}"; name = "n"; timers = { check = 9; timeout = 9; }; }) 25;
      in
      has "[.][.][.] and 5 more" (firstFailure (withPassive many));
    expected = true;
  }
]
