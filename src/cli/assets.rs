//! Shell completions and man pages generated from the clap definitions
//! (`smokercli generate-assets contrib`): for `smokercli` (with `send-nsca`), `check_smoker`
//! and `smokerd`, plus one man page per subcommand (`smokercli-history(1)`, …) and
//! `smokerd.yaml(5)`. The
//! generated files are committed; a test keeps them in step with the code.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::{Shell, generate};

use super::args::{CheckArgs, Cli, send_nsca_command};
use crate::daemon::args::Args as DaemonArgs;

/// Every generated file: path relative to the assets directory, and its content.
pub fn assets() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let smokercli = Cli::command().subcommand(send_nsca_command());
    for mut command in [smokercli, CheckArgs::command(), DaemonArgs::command()] {
        let name = command.get_name().to_owned();
        for (shell, file) in [
            (Shell::Bash, format!("{name}.bash")),
            (Shell::Zsh, format!("_{name}")),
            (Shell::Fish, format!("{name}.fish")),
        ] {
            let mut buffer = Vec::new();
            generate(shell, &mut command, name.clone(), &mut buffer);
            files.push((Path::new("completions").join(file), buffer));
        }
        // Built, each subcommand is displayed as `NAME-SUB`: its page is NAME-SUB(1).
        command.build();
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            let page = clap_mangen::Man::new(sub.clone()).get_filename();
            files.push((Path::new("man").join(page), man_page(sub.clone())));
        }
        files.push((
            Path::new("man").join(format!("{name}.1")),
            man_page(command),
        ));
    }
    files.push((
        Path::new("man").join("smokerd.yaml.5"),
        super::config_man::page(),
    ));
    files
}

fn man_page(command: clap::Command) -> Vec<u8> {
    let mut buffer = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = clap_mangen::Man::new(command).render(&mut buffer);
    buffer
}

/// Write every asset under `dir`.
pub fn write_assets(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (path, content) in assets() {
        let full = dir.join(&path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&full, content)?;
        written.push(full);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_assets_are_up_to_date() {
        let contrib = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib");
        for (path, content) in assets() {
            let committed = std::fs::read(contrib.join(&path)).unwrap_or_default();
            assert!(
                committed == content,
                "contrib/{} is stale: run `cargo run --bin smokercli -- generate-assets contrib`",
                path.display()
            );
        }
    }
}
