//! The optional client config: first existing of `$SMOKERCLI_CONFIG`, `~/.smokercli.yaml`,
//! `/etc/smokercli.yaml` (smoker-compat.md §4.1, without the original's crash when it is
//! missing, Q10). Unknown keys (the original's `plugin_paths`) are ignored.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

/// Default daemon port.
pub const DEFAULT_PORT: u16 = 8086;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ClientConfig {
    /// Default hosts when `-s` is not given.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Port for hosts given without one.
    pub bind_port: Option<u16>,
    /// Default output format.
    pub pretty: Option<String>,
    /// Bearer token (the flag and `SMOKER_TOKEN` win).
    pub token: Option<String>,
    /// CA bundle for https:// hosts.
    pub ca_file: Option<PathBuf>,
    /// Skip TLS verification.
    #[serde(default)]
    pub insecure: bool,
}

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("Invalid config file {path}: {source}")]
    Unreadable {
        path: String,
        source: std::io::Error,
    },
    #[error("Invalid config file {path}: {source}")]
    Invalid {
        path: String,
        source: Box<serde_saphyr::Error>,
    },
}

impl ClientConfig {
    pub fn port(&self) -> u16 {
        self.bind_port.unwrap_or(DEFAULT_PORT)
    }

    /// Load the first config file that exists; none is fine.
    pub fn load() -> Result<ClientConfig, ConfigError> {
        let mut candidates = Vec::new();
        if let Some(path) = std::env::var_os("SMOKERCLI_CONFIG").filter(|p| !p.is_empty()) {
            candidates.push(PathBuf::from(path));
        }
        if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            candidates.push(Path::new(&home).join(".smokercli.yaml"));
        }
        candidates.push(PathBuf::from("/etc/smokercli.yaml"));
        match candidates.into_iter().find(|p| p.exists()) {
            Some(path) => ClientConfig::read(&path),
            None => Ok(ClientConfig::default()),
        }
    }

    pub fn read(path: &Path) -> Result<ClientConfig, ConfigError> {
        let path_text = || path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Unreadable {
            path: path_text(),
            source,
        })?;
        ClientConfig::parse(&text).map_err(|source| ConfigError::Invalid {
            path: path_text(),
            source,
        })
    }

    pub fn parse(text: &str) -> Result<ClientConfig, Box<serde_saphyr::Error>> {
        if text.trim().is_empty() {
            return Ok(ClientConfig::default());
        }
        let config: Option<ClientConfig> = serde_saphyr::from_str(text)?;
        Ok(config.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_config_is_accepted() {
        let config =
            ClientConfig::parse("plugin_paths:\n  - smoker.client.plugins\nbind_port: 9000\n")
                .unwrap();
        assert_eq!(config.port(), 9000);
        assert!(config.hosts.is_empty());
        let config = ClientConfig::parse("hosts: [a, 'b:1']\ninsecure: yes\n").unwrap();
        assert_eq!(config.hosts, ["a", "b:1"]);
        assert!(config.insecure);
        assert_eq!(config.port(), DEFAULT_PORT);
        assert_eq!(ClientConfig::parse("").unwrap(), ClientConfig::default());
        assert_eq!(ClientConfig::parse("~\n").unwrap(), ClientConfig::default());
        assert!(ClientConfig::parse("bind_port: nope\n").is_err());
    }
}
