# Runs one test file: a list of { name; expr; expected; }.
# Evaluates to the number of cases when all pass; otherwise throws a message
# listing each failure with what was expected and what came out, ending in a
# line "nix-tests-failed=<k> total=<n>" that run.sh counts. A case whose
# expression throws (throw/assert) counts as one failure; other evaluation
# errors abort the file and run.sh counts the file as one failure.
file:
let
  cases = import file;
  show = v: builtins.toJSON v;
  run =
    c:
    let
      got = builtins.tryEval (builtins.deepSeq c.expr c.expr);
    in
    c
    // {
      ok = got.success && got.value == c.expected;
      shown = if got.success then show got.value else "<throws>";
    };
  results = map run cases;
  failed = builtins.filter (r: !r.ok) results;
  report = r: "FAIL ${r.name}\n  expected: ${show r.expected}\n  got:      ${r.shown}";
in
if failed == [ ] then
  builtins.length cases
else
  throw (
    builtins.concatStringsSep "\n" (map report failed)
    + "\nnix-tests-failed=${toString (builtins.length failed)} total=${toString (builtins.length cases)}"
  )
