# Sourced by run.sh and eval-module.sh: lets `nix-instantiate` evaluate as
# root or as an ordinary user, without a daemon and without /nix.
#
# Nix wants a state directory even to evaluate; a non-root user without /nix
# cannot create the default one. A throwaway one and the `dummy://` store
# (nothing here is built or copied) work for both. An empty nix.conf and an
# empty build-users-group silence Debian's "group nixbld does not exist".
nix_scratch=$(mktemp -d)
trap 'rm -rf "$nix_scratch"' EXIT
mkdir -p "$nix_scratch/state" "$nix_scratch/log" "$nix_scratch/conf" "$nix_scratch/home"
: >"$nix_scratch/conf/nix.conf"
export NIX_STATE_DIR="$nix_scratch/state" NIX_LOG_DIR="$nix_scratch/log" NIX_CONF_DIR="$nix_scratch/conf"
export HOME="$nix_scratch/home" XDG_CACHE_HOME="$nix_scratch/home/.cache"
unset NIX_PATH
nix_args=(--store dummy:// --option build-users-group '')
