# The config-file schema the NixOS module declares: nix/options.nix and
# nix/targets.nix evaluated with the builtins-only stand-in lib of
# options-stub-lib.nix, walked into plain data. tests/it/schema.rs holds it
# against what the agent accepts, and against docs/config.md.
#
#   nix-instantiate --eval --strict --json nix/tests/options-schema.nix
#
# Result:
#   entries     one per config-file key, in a stable order:
#                 { path = [ "targets" "passive" "timers" "check" ];
#                   kind = "value" | "table" | "tables";   # tables: a list of submodules
#                   type;          # { name; elemType?; values?; min?; max?; left?; right? }
#                   hasDefault; default?; defaultText?;
#                   example?;        # a value
#                   exampleText?; }  # a literalExpression's text
#               Options that never reach the file (render.nix moduleOnlyTopKeys,
#               moduleOnlyTargetKeys) are left out.
#   moduleOnly  the options left out, described like entries (a default that
#               needs pkgs is omitted), for README's option table.
#   rendered    keys render.nix writes at the top level that are no option
#               (stateDir), from rendering the defaults.
let
  lib = import ./options-stub-lib.nix;
  render = import ../render.nix;
  inherit (builtins)
    attrNames
    concatMap
    elem
    filter
    isFunction
    listToAttrs
    map
    ;

  # Each option's default, for the `config` the declarations read (the global
  # `public` a target's `public` defaults to; a Hydra target's project and
  # jobset its name defaults to). Lazy: only what is read is evaluated.
  defaultsOf = mapOptions (o: o.default);
  mapOptions =
    f: tree:
    builtins.mapAttrs (_: v: if lib.isOption v then (if v ? default then f v else null) else mapOptions f v) (
      builtins.removeAttrs tree [ "_module" ]
    );

  declared = import ../options.nix {
    inherit lib;
    config.nixcloud.monitoring = defaultsOf top;
    # The `package` default is the only use; module-only, never forced here.
    pkgs = throw "options-schema: pkgs is not available (an option default other than `package` uses it)";
  };
  top = declared.options.nixcloud.monitoring;

  # A submodule's options: a function module gets its own defaults as config.
  submoduleOptions =
    module:
    if isFunction module then
      let
        evaluated = module {
          inherit lib;
          config = defaultsOf evaluated.options;
          name = "<name>";
        };
      in
      evaluated.options
    else
      module.options;

  typeJson =
    t:
    if !(lib.isType t) then
      throw "options-schema: not a type of options-stub-lib: ${builtins.typeOf t}"
    else
      {
        inherit (t) name;
      }
      // (if t ? elemType then { elemType = typeJson t.elemType; } else { })
      // (if t ? left then { left = typeJson t.left; } else { })
      // (if t ? right then { right = typeJson t.right; } else { })
      // (if t ? values then { inherit (t) values; } else { })
      // (if t ? min then { inherit (t) min max; } else { });

  isLiteral = v: builtins.isAttrs v && (v._type or null) == "literalExpression";
  text = v: if isLiteral v then v.text else v;

  # The options of one table (an attrset of options and nested attrsets of
  # options), at `path`; `skip`: option names that are not written.
  walk =
    path: skip: tree:
    concatMap (
      n:
      let
        v = tree.${n};
        p = path ++ [ n ];
      in
      if elem n skip || elem p render.moduleOnlyPaths then
        [ ]
      else if lib.isOption v then
        option p v
      else if builtins.isAttrs v then
        # A plain attrset of options (queue, delivery, icinga2): a table.
        [
          {
            path = p;
            kind = "table";
            type = {
              name = "attrset";
            };
            hasDefault = false;
          }
        ]
        ++ walk p [ ] v
      else
        throw "options-schema: ${builtins.concatStringsSep "." p} is neither an option nor a set of options"
    ) (filter (n: n != "_module") (attrNames tree));

  # Target submodules (elements of targets.active.<kind>, targets.passive)
  # leave out moduleOnlyTargetKeys; every other submodule only `_module`.
  isTargetList = p: (builtins.length p == 3 && builtins.elemAt p 1 == "active") || p == [ "targets" "passive" ];

  # One option as data; `safeDefault`: leave out a default that cannot be
  # evaluated here (the module-only `package`, which needs pkgs).
  describe =
    safeDefault: p: o:
    let
      t = o.type;
      elementSubmodule = t.name == "listOf" && t.elemType.name == "submodule";
      namedSubmodules = t.name == "attrsOf" && t.elemType.name == "submodule";
      defaultOk = o ? default && (!safeDefault || (builtins.tryEval (builtins.deepSeq o.default true)).success);
    in
    {
      path = p;
      kind =
        if t.name == "submodule" then
          "table"
        else if elementSubmodule then
          "tables"
        else if namedSubmodules then
          "named"
        else
          "value";
      type = typeJson t;
      hasDefault = o ? default;
    }
    // (if defaultOk then { default = o.default; } else { })
    // (if o ? defaultText then { defaultText = text o.defaultText; } else { })
    // (
      if !(o ? example) then
        { }
      else if isLiteral o.example then
        { exampleText = o.example.text; }
      else
        { inherit (o) example; }
    );

  option =
    p: o:
    let
      t = o.type;
      skip = if isTargetList p then render.moduleOnlyTargetKeys else [ "_module" ];
    in
    [ (describe false p o) ]
    ++ (
      if t.name == "submodule" then
        walk p [ "_module" ] (submoduleOptions t.module)
      else if t.name == "listOf" && t.elemType.name == "submodule" then
        walk p skip (submoduleOptions t.elemType.module)
      else if t.name == "attrsOf" && t.elemType.name == "submodule" then
        # notify.channels.<name>: one table per name, each with the submodule's keys.
        [
          {
            path = p ++ [ "<name>" ];
            kind = "table";
            type = {
              name = "attrset";
            };
            hasDefault = false;
          }
        ]
        ++ walk (p ++ [ "<name>" ]) [ "_module" ] (submoduleOptions t.elemType.module)
      else
        [ ]
    );

  # Module-only options (README documents them, the file has none of them).
  moduleOnly =
    map (n: describe true [ n ] top.${n}) (filter (n: n != "_module" && top ? ${n}) render.moduleOnlyTopKeys)
    ++ concatMap (
      p:
      let
        o = submoduleOptions (getOption p).type.elemType.module;
      in
      map (n: describe true (p ++ [ n ]) o.${n}) (
        filter (n: n != "_module" && o ? ${n}) render.moduleOnlyTargetKeys
      )
    ) targetLists;
  getOption =
    p:
    builtins.foldl' (acc: n: if lib.isOption acc then (submoduleOptions acc.type.module).${n} else acc.${n}) top p;
  targetLists = map (k: [
    "targets"
    "active"
    k
  ]) (attrNames (submoduleOptions (getOption [ "targets" "active" ]).type.module)) ++ [ [ "targets" "passive" ] ];

  # What render.nix writes for the defaults, minus the options: keys the
  # module adds itself. (`targets` is left out when empty, `icinga2` unless
  # backend = "icinga2"; both are options anyway.)
  renderedDefaults = render.renderConfig (
    builtins.removeAttrs (defaultsOf top) [ "package" ]
    // {
      targets = { };
    }
  );
  rendered = listToAttrs (
    map (n: {
      name = n;
      value = renderedDefaults.${n};
    }) (filter (n: !(top ? ${n})) (attrNames renderedDefaults))
  );
in
{
  entries = walk [ ] (filter (n: n != "_module") render.moduleOnlyTopKeys) top;
  inherit moduleOnly rendered;
}
