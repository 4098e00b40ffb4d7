//! Host bindings for the Spin platform interfaces orderhub-host implements
//! (WIT under `tests/host/wit/`, copied from the spin-sdk 5.2.0 crate).

wasmtime::component::bindgen!({
    world: "orderhub:host/platform",
    path: "wit",
    imports: { default: async | trappable },
    with: {
        "fermyon:spin/key-value.store": crate::kv::Store,
        "wasi:keyvalue/store.bucket": crate::kv::Bucket,
        "wasi:keyvalue/atomics.cas": crate::kv::Cas,
    },
});
