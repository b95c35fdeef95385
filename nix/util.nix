# The few list/attrset helpers the pure code in nix/ needs, written with
# `builtins` only.
#
# Why not nixpkgs `lib`: the helpers are tested in CI with nothing but Debian's
# `nix-bin` (no nixpkgs checkout), so everything under nix/ that module.nix calls
# at evaluation time must stand on builtins alone. Keep this file small; add a
# function only when two helpers need it.
let
  inherit (builtins)
    attrNames
    concatLists
    filter
    foldl'
    removeAttrs
    ;
in
rec {
  # Attrset without the attributes for which `pred name value` is false.
  filterAttrs = pred: set: removeAttrs set (filter (n: !(pred n set.${n})) (attrNames set));

  # TOML has no null: optional keys that are unset are left out.
  dropNulls = filterAttrs (_: v: v != null);

  # `a // b // ...` over a list: later entries win.
  mergeAll = foldl' (acc: s: acc // s) { };

  concatMap = f: list: concatLists (map f list);

  optional = cond: x: if cond then [ x ] else [ ];
}
