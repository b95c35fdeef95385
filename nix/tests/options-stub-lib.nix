# A stand-in for nixpkgs' `lib`, written with builtins only, good for exactly
# one thing: evaluating the option DECLARATIONS of nix/options.nix and
# nix/targets.nix (and nix/secret-path.nix) without nixpkgs, so that
# nix/tests/options-schema.nix can walk them (CI has Debian's nix-instantiate
# and no nixpkgs).
#
# It is not a module system: nothing is merged, checked against a value or
# given a config. An option is the attrset given to mkOption (tagged
# `_type = "option"`); a type is a record { _type = "option-type"; name; ... }
# holding its parameters (elemType, values, module, min/max of an integer).
#
# Only what those files use is here. A function or type they start using that
# is missing fails loudly: `lib.foo` / `types.foo` is a missing attribute, and
# mkOption refuses arguments it does not know. Add it here when that happens.
let
  inherit (builtins)
    attrNames
    filter
    isFunction
    isString
    substring
    stringLength
    concatStringsSep
    ;

  # The arguments mkOption of nixpkgs accepts (lib/options.nix).
  mkOptionArgs = [
    "default"
    "defaultText"
    "example"
    "description"
    "relatedPackages"
    "type"
    "apply"
    "internal"
    "visible"
    "readOnly"
  ];

  mkType =
    name: extra:
    {
      _type = "option-type";
      inherit name;
    }
    // extra;

  # Nix integers are 64-bit signed.
  maxInt = 9223372036854775807;
  minInt = -maxInt - 1;

  intType =
    name: min: max:
    mkType name { inherit min max; };

  types = rec {
    str = mkType "str" { };
    lines = mkType "lines" { };
    bool = mkType "bool" { };
    int = intType "int" minInt maxInt;
    path = mkType "path" { };
    package = mkType "package" { };
    anything = mkType "anything" { };

    # nixpkgs: types.port = ints.u16 (0..65535).
    port = intType "port" 0 65535;
    ints = {
      positive = intType "positiveInt" 1 maxInt;
      between = lo: hi: intType "intBetween" lo hi;
    };

    enum =
      values:
      assert builtins.isList values;
      mkType "enum" { inherit values; };
    nullOr = elemType: mkType "nullOr" { inherit elemType; };
    listOf = elemType: mkType "listOf" { inherit elemType; };
    attrsOf = elemType: mkType "attrsOf" { inherit elemType; };
    either = left: right: mkType "either" { inherit left right; };
    # A module: an attrset { options = …; } or a function of { config, … }.
    submodule = module: mkType "submodule" { inherit module; };
    # The type stays what it was (as in nixpkgs); the check is kept.
    addCheck = elemType: check: elemType // { inherit check; };
  };
in
{
  inherit types maxInt minInt;

  mkOption =
    attrs:
    let
      unknown = filter (n: !(builtins.elem n mkOptionArgs)) (attrNames attrs);
    in
    if unknown != [ ] then
      throw "options-stub-lib: mkOption got unknown arguments: ${concatStringsSep ", " unknown}"
    else if !(attrs ? type) then
      throw "options-stub-lib: mkOption without a type (every option here declares one)"
    else
      { _type = "option"; } // attrs;

  # As nixpkgs: a bool option, default false, example true.
  mkEnableOption = name: {
    _type = "option";
    type = types.bool;
    default = false;
    example = true;
    description = "Whether to enable ${name}.";
  };

  literalExpression =
    text:
    assert isString text;
    {
      _type = "literalExpression";
      inherit text;
    };

  inherit (builtins) mapAttrs;

  hasPrefix = prefix: s: substring 0 (stringLength prefix) s == prefix;

  # For the walker: is this an option / a type of this stand-in?
  isOption = v: builtins.isAttrs v && (v._type or null) == "option";
  isType = v: builtins.isAttrs v && (v._type or null) == "option-type";
  isFunctionModule = isFunction;
}
