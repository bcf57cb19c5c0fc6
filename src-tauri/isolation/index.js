// The isolation application: every IPC message from the UI passes through this hook in a
// sandboxed iframe before Tauri encrypts it for the core. The app commands validate their own
// input in Rust, so the hook passes payloads through unchanged; it exists so that a compromised
// UI dependency cannot talk to the core without the isolation key.
window.__TAURI_ISOLATION_HOOK__ = (payload) => payload;
