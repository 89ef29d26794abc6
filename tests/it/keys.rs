//! Signing keys as an operator handles them: `hub keygen` makes a pair that `hub token`
//! and the hub use; `serve` refuses the key committed in the repository unless told that
//! this is a development run; `hub token` never falls back to it.

use std::process::Output;

use coalition_hub::{
    Config,
    auth::{KeySet, Principal},
    config::development_keys,
};

use crate::support::{env_url, fresh_database};

fn hub(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_hub"));
    command.args(args).env_remove("HUB_JWT_KEYS");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn committed_keys_json() -> String {
    let keys: Vec<_> = development_keys()
        .into_iter()
        .map(|k| {
            serde_json::json!({"kid": k.kid, "alg": k.alg, "signing": k.signing,
                "private_key_file": k.private_key_file, "public_key_file": k.public_key_file})
        })
        .collect();
    serde_json::to_string(&keys).unwrap()
}

#[test]
fn keygen_makes_a_key_pair_that_mints_and_verifies_tokens() {
    let dir = std::env::temp_dir().join(format!("hub-keys-{}", uuid::Uuid::new_v4()));
    let dir_arg = dir.to_str().unwrap();
    let made = hub(&["keygen", "--dir", dir_arg], &[]);
    assert!(made.status.success(), "{made:?}");
    let keys = format!("@{}/keys.json", dir.display());
    let minted = hub(&["token", "--role", "operator"], &[("HUB_JWT_KEYS", &keys)]);
    assert!(minted.status.success(), "{minted:?}");
    let token = String::from_utf8(minted.stdout).unwrap();

    // Verified with the same keys, as `serve` would.
    config_with_keys(&keys, |config| {
        let set = KeySet::from_config(&config.jwt).unwrap();
        assert!(matches!(
            set.verify(token.trim()).unwrap(),
            Principal::Operator { .. }
        ));
        // Not the committed key: a token from it is refused.
        let committed = KeySet::from_config(
            &Config::development("postgres://x".into(), "redis://x".into()).jwt,
        )
        .unwrap();
        assert!(committed.verify(token.trim()).is_err());
    });
    // The private key is its owner's alone; a second keygen keeps the pair.
    let mode = std::fs::metadata(dir.join("hub-ed25519.pem")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    let again = hub(&["keygen", "--dir", dir_arg, "--if-missing"], &[]);
    assert!(again.status.success(), "{again:?}");
    let refused = hub(&["keygen", "--dir", dir_arg], &[]);
    assert!(
        !refused.status.success(),
        "an existing private key is never overwritten"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Builds the configuration `serve` would read for `HUB_JWT_KEYS=keys` (without touching
/// this process's environment, which other tests share).
fn config_with_keys(keys: &str, check: impl FnOnce(&Config)) {
    let path = keys.trim_start_matches('@');
    let specs = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut config = Config::development("postgres://x".into(), "redis://x".into());
    config.jwt.keys = specs;
    check(&config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_the_committed_key_unless_told_it_is_a_development_run() {
    let database_url = fresh_database().await;
    let redis_url = env_url("REDIS_URL");
    let committed = committed_keys_json();
    let env = [
        ("DATABASE_URL", database_url.as_str()),
        ("REDIS_URL", redis_url.as_str()),
        ("HUB_LISTEN", "127.0.0.1:0"),
        ("HUB_JWT_KEYS", committed.as_str()),
    ];
    let refused = hub(&["serve"], &env);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("committed in the repository"), "{stderr}");

    // Told so, it starts (and is stopped once it answers).
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hub"))
        .arg("serve")
        .envs(env)
        .env("HUB_ALLOW_DEVELOPMENT_KEYS", "true")
        .env("HUB_LISTEN", "127.0.0.1:0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "serve stopped by itself"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    // `hub token` without configured keys refuses rather than using the committed ones.
    let no_keys = hub(&["token", "--role", "operator"], &[]);
    assert!(!no_keys.status.success());
    assert!(String::from_utf8_lossy(&no_keys.stderr).contains("HUB_JWT_KEYS"));
}
