# Sourced by scripts/setup and scripts/build: how this machine builds wasm32-wasip2.
# Sets WASM_BUILD_MODE to "rustup" (rustup's own target) or "debian" (rustc-web +
# build-std, see ../shared/TOOLCHAIN.md) and exports what cargo needs for it.

orderhub_wasm_mode() {
  if command -v rustup >/dev/null 2>&1 && rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    echo rustup
  elif [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ] && [ -x /usr/lib/llvm-19/bin/wasm-ld ] \
       && command -v wasm-component-ld >/dev/null 2>&1; then
    echo debian
  else
    echo none
  fi
}

# Arguments for `cargo build` of the components, in the current mode.
orderhub_wasm_env() {
  WASM_BUILD_MODE=$(orderhub_wasm_mode)
  WASM_CARGO_ARGS=(--target wasm32-wasip2 --release)
  case "$WASM_BUILD_MODE" in
    debian)
      # Only for the wasm cargo invocation: RUSTC/RUSTFLAGS would otherwise change native builds.
      WASM_ENV=(RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
        CARGO_TARGET_WASM32_WASIP2_LINKER=wasm-component-ld
        "RUSTFLAGS=-C link-self-contained=no -L /usr/lib/wasm32-wasi -C link-arg=--wasm-ld-path=/usr/lib/llvm-19/bin/wasm-ld")
      WASM_CARGO_ARGS+=(-Zbuild-std=std,panic_abort)
      ;;
    *) WASM_ENV=() ;;
  esac
}
