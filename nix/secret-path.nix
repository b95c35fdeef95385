# Option type for a secret file: an absolute path given as a string, outside
# the Nix store.
#
# Why not types.path: a Nix path literal (`./key`) would be copied into the
# world-readable store as soon as the config is rendered. A string is never
# copied; rejecting /nix/store/... catches keys that were already put there.
{ lib }:
lib.types.addCheck lib.types.str (
  s: lib.hasPrefix "/" s && !(lib.hasPrefix "${builtins.storeDir}/" s)
)
// {
  name = "secretPath";
  description = "absolute path outside the Nix store, as a string";
  descriptionClass = "noun";
}
