//! Opens a sign-in page in the system browser. Only `https://` addresses (and `http://` to a
//! loopback test server) are opened; anything else is ignored, and a failure to start a browser is
//! only logged: the UI shows the address to open by hand.

pub fn open(url: &str) {
    let allowed = url.starts_with("https://")
        || url.starts_with("http://127.0.0.1:")
        || url.starts_with("http://localhost:");
    if !allowed || url.chars().any(char::is_whitespace) {
        tracing::warn!("refused to open a non-https sign-in address");
        return;
    }
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    let started = std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    if let Err(error) = started {
        tracing::warn!(%error, program, "cannot start the system browser");
    }
}
