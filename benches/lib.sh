# Sourced by the benchmark scripts after they set `root` (the repository).

# Builds the release binary and sets `fh` to it.
release_flakehound() {
  cargo build --release -q -p flakehound --manifest-path "$root/Cargo.toml"
  fh="$root/target/release/flakehound"
}

# Sets `work` to a new temporary directory, removed when the script exits.
scratch_dir() {
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
}

# A scratch copy of examples/flaky-shop at "$work/shop" (after scratch_dir), made the cwd.
enter_flaky_shop() {
  cp -r "$root/examples/flaky-shop" "$work/shop"
  cd "$work/shop"
}
