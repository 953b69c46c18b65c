//! Certificates for TLS tests: a self-signed one made for each test, written as PEM files.

use std::path::{Path, PathBuf};

/// A self-signed certificate for `localhost` and 127.0.0.1, written to `dir` as PEM:
/// (certificate file, key file). A client trusts it by naming the certificate file as its CA.
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("a self-signed certificate");
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    std::fs::write(&cert, made.cert.pem()).expect("write the certificate");
    std::fs::write(&key, made.key_pair.serialize_pem()).expect("write the key");
    (cert, key)
}

/// `[tls]` with these files and these switches on (`fix`, `binary`, `replication`, …).
pub fn tls_section(cert: &Path, key: &Path, listeners: &[&str]) -> String {
    let mut text = format!(
        "[tls]\ncert_file = {:?}\nkey_file = {:?}\n",
        cert.display().to_string(),
        key.display().to_string()
    );
    for listener in listeners {
        text.push_str(&format!("{listener} = true\n"));
    }
    text
}
