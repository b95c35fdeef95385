# Escaping of target ids (nix/escape.nix). The first five vectors are shared
# with the Rust agent's tests: both sides must agree on every name.
let
  inherit (import ../lib.nix) escapeId targetId isPlainId;
  vector = input: expected: {
    name = "escapeId ${builtins.toJSON input}";
    expr = escapeId input;
    inherit expected;
  };
in
[
  # shared with the agent
  (vector "mail.lastlog.de-sometest" "mail.lastlog.de-sometest")
  (vector "https://hydra.nixos.org-nixpkgs_trunk" "https___hydra.nixos.org-nixpkgs_trunk")
  (vector "2001:db8::1-PING" "2001_db8__1-PING")
  (vector ".hidden-x" "_hidden-x")
  (vector "mail.lastlog.de-快乐" "mail.lastlog.de-__")

  # one "_" per character, whatever its UTF-8 length (2, 3 and 4 bytes)
  (vector "ä-x" "_-x")
  (vector "日本語.example-x" "___.example-x")
  (vector "😀-x" "_-x")
  # only the first leading dot
  (vector "..x" "_.x")
  (vector "x.-." "x.-.")
  # ASCII that is not allowed: space, tab, slash, backslash, @, %, $, quote
  (vector "a b\tc" "a_b_c")
  (vector "a/b\\c" "a_b_c")
  (vector "u@h%i$'\"" "u_h_i___")
  (vector "-x" "-x")
  (vector "" "")

  {
    name = "targetId joins host and name with -";
    expr = targetId {
      host = "mail.lastlog.de";
      name = "sometest";
    };
    expected = "mail.lastlog.de-sometest";
  }
  {
    name = "isPlainId";
    expr = map isPlainId [ "a.b-c_D9" "a:b" ".a" ];
    expected = [ true false false ];
  }
]
