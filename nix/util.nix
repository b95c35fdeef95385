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
    genList
    length
    listToAttrs
    removeAttrs
    ;
in
rec {
  # Attrset without the attributes for which `pred name value` is false.
  filterAttrs = pred: set: removeAttrs set (filter (n: !(pred n set.${n})) (attrNames set));

  # TOML has no null: optional keys that are unset are left out.
  dropNulls = filterAttrs (_: v: v != null);

  # `{ a = 1; } // { b = 2; } // ...` over a list, later entries win.
  mergeAll = foldl' (acc: s: acc // s) { };

  # Build an attrset from a list of `{ name; value; }` (alias, for readability).
  fromPairs = listToAttrs;

  # Pairs a list with its 0-based index: [ { index; value; } ... ].
  enumerate = list: genList (i: { index = i; value = builtins.elemAt list i; }) (length list);

  concatMap = f: list: concatLists (map f list);

  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];
  optionalAttrs = cond: set: if cond then set else { };

  # Distinct strings of a list, sorted (an attrset does the work in O(n log n)).
  uniqueStrings = list: attrNames (listToAttrs (map (s: { name = s; value = null; }) list));
}
