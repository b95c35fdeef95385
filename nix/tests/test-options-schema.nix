# The option declarations, evaluated without nixpkgs (options-stub-lib.nix,
# options-schema.nix): the stand-in refuses what it does not know, and the
# defaults written out in fixtures.nix are the options' real defaults.
# (tests/it/schema.rs holds the same schema against the agent binary.)
let
  lib = import ./options-stub-lib.nix;
  schema = import ./options-schema.nix;
  f = import ./fixtures.nix;

  isPrefix =
    prefix: path:
    builtins.length path > builtins.length prefix
    && builtins.genList (i: builtins.elemAt path i) (builtins.length prefix) == prefix;

  # The defaults below a table as NixOS fills them in: a nested attrset of
  # its keys (lists of targets default to []; keys without default are left out).
  defaultsAt =
    prefix:
    builtins.listToAttrs (
      map
        (e: {
          name = builtins.elemAt e.path (builtins.length prefix);
          value = if e.kind == "table" then defaultsAt e.path else e.default;
        })
        (
          builtins.filter (
            e:
            isPrefix prefix e.path
            && builtins.length e.path == builtins.length prefix + 1
            && (e.kind == "table" || e.hasDefault)
          ) schema.entries
        )
    );
  kind = k: [
    "targets"
    "active"
    k
  ];
  keys = map (e: builtins.concatStringsSep "." e.path);
in
[
  {
    name = "mkOption refuses an argument it does not know";
    expr =
      (builtins.tryEval (
        lib.mkOption {
          type = lib.types.str;
          defualt = "";
        }
      )).success;
    expected = false;
  }
  {
    name = "mkOption refuses an option without a type";
    expr = (builtins.tryEval (lib.mkOption { default = ""; })).success;
    expected = false;
  }
  {
    name = "pkgs is never needed for the schema (only the module-only package default uses it)";
    expr = builtins.length schema.entries > 100;
    expected = true;
  }
  {
    name = "module-only options are left out of the file and listed";
    expr = {
      inherit (schema) rendered;
      moduleOnly = map (e: e.path) schema.moduleOnly;
      leaked = builtins.filter (e: builtins.elem e.path (map (x: x.path) schema.entries)) schema.moduleOnly;
    };
    expected = {
      moduleOnly = [
        [ "enable" ]
        [ "mode" ]
        [ "package" ]
        [
          "targets"
          "passive"
          "serviceConfig"
        ]
        [
          "targets"
          "passive"
          "path"
        ]
      ];
      rendered.stateDir = "/var/lib/nixcloud-monitoring";
      leaked = [ ];
    };
  }
  {
    name = "every target kind has the common keys";
    expr = map (
      k:
      builtins.filter (
        c:
        !(builtins.elem "targets.active.${k}.${c}" (keys schema.entries))
      ) [ "host" "name" "tags" "public" "apiKey" "apiKeyFile" "ipv4" "ipv6" ]
    ) [ "check_http" "check_ssl_cert" "check_dns" "check_ping" "check_smtp" "check_ssh" "check_hydra" ];
    expected = [ [ ] [ ] [ ] [ ] [ ] [ ] [ ] ];
  }
  {
    name = "fixtures.base holds the options' defaults (backends: derived from backend)";
    expr =
      builtins.removeAttrs f.base [
        "enable"
        "mode"
        "package"
      ]
      // {
        backends = [ f.base.backend ];
      };
    expected = defaultsAt [ ];
  }
  {
    name = "fixtures' check_http, check_ssl_cert, check_ping hold the options' defaults";
    expr = [
      (f.http { })
      (f.ssl { })
      (f.ping { })
    ];
    expected = map (k: defaultsAt (kind k)) [
      "check_http"
      "check_ssl_cert"
      "check_ping"
    ];
  }
  {
    name = "fixtures' check_hydra holds the options' defaults; name defaults to <project>_<jobset>";
    expr = f.hydra { } // {
      name = "_";
    };
    expected = defaultsAt (kind "check_hydra");
  }
  {
    name = "fixtures' passive target holds the options' defaults (name has none)";
    expr = builtins.removeAttrs (f.passive { }) [
      "path"
      "serviceConfig"
    ];
    expected = defaultsAt [
      "targets"
      "passive"
    ];
  }
]
