//! The chain `bench` times: a user's `chain.toml`, or the default chain (the
//! model, then a cabinet IR if one is given), built by `nam-graph` exactly as
//! `nam-graph run` builds it.

use std::path::{Path, PathBuf};

use nam_graph::{Chain, ChainError, Graph};

/// Which chain to time.
#[derive(Clone, Debug)]
pub enum ChainSource {
    /// The model alone through a `nam` node, then an `ir` node when a cabinet
    /// IR is given.
    Default {
        /// The model.
        model: PathBuf,
        /// The cabinet IR (a WAV file).
        ir: Option<PathBuf>,
    },
    /// A `chain.toml` file.
    File(PathBuf),
}

impl ChainSource {
    /// A one-line description for reports.
    pub fn describe(&self) -> String {
        match self {
            ChainSource::Default { ir: None, .. } => "default: the model".to_owned(),
            ChainSource::Default { ir: Some(ir), .. } => {
                format!("default: the model, then the cabinet IR {}", ir.display())
            }
            ChainSource::File(path) => path.display().to_string(),
        }
    }

    /// Builds the chain, mono, at `sample_rate_hz`; the default chain's
    /// internal block is `block_frames`.
    pub fn build(&self, sample_rate_hz: f64, block_frames: usize) -> Result<Graph, ChainError> {
        let chain = match self {
            ChainSource::File(path) => Chain::load(path)?,
            ChainSource::Default { model, ir } => {
                let text = default_chain_toml(model, ir.as_deref(), block_frames);
                // Lines of the generated text mean nothing to the user: the
                // errors name the model or IR file instead.
                Chain::parse(&text, Path::new("default chain")).map_err(without_line)?
            }
        };
        match self {
            ChainSource::File(_) => chain.build(sample_rate_hz, 1),
            ChainSource::Default { .. } => chain.build(sample_rate_hz, 1).map_err(without_line),
        }
    }
}

fn without_line(error: ChainError) -> ChainError {
    ChainError {
        line: None,
        ..error
    }
}

/// The default chain as `chain.toml` text (absolute or as-given paths).
fn default_chain_toml(model: &Path, ir: Option<&Path>, block_frames: usize) -> String {
    let mut text = format!(
        "[chain]\nblock_frames = {block_frames}\n\n[[node]]\nid = \"amp\"\nkind = \"nam\"\nmodel = {}\n",
        toml_string(model)
    );
    if let Some(ir) = ir {
        text.push_str(&format!(
            "\n[[node]]\nid = \"cab\"\nkind = \"ir\"\nfile = {}\n",
            toml_string(ir)
        ));
    }
    text
}

/// A path as a TOML basic string, escaped.
fn toml_string(path: &Path) -> String {
    let mut out = String::from('"');
    for c in path.to_string_lossy().chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_quotes_backslashes_and_controls_survive_toml() {
        let path = Path::new("/tmp/a \"b\"\\c\td.nam");
        let text = default_chain_toml(path, Some(Path::new("cab.wav")), 64);
        let value: toml::Table = text.parse().expect("valid TOML");
        let node = &value["node"].as_array().unwrap()[0];
        assert_eq!(node["model"].as_str(), Some("/tmp/a \"b\"\\c\td.nam"));
        assert_eq!(
            value["node"].as_array().unwrap()[1]["file"].as_str(),
            Some("cab.wav")
        );
    }
}
