//! `[page]`: the settings of the `page` backend (src/backend/page/), the status page.

use crate::targets::{self, Target};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::path::PathBuf;

/// `[page]` as written in the config.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PageSettings {
    /// Where `index.html`, `status.json` and `badges/` are written. Default:
    /// `<stateDir>/page/site`.
    pub dir: Option<PathBuf>,
    /// Whose outputs (and perfdata) the page shows.
    pub show_output: ShowOutput,
}

/// `showOutput`: `true` (every target's output is shown), `false` (none) or a list of target
/// ids (raw or escaped) whose outputs are shown, every other one hidden. A list fails closed:
/// a misspelt id or a target added later shows no output until it is named.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ShowOutput {
    #[default]
    All,
    None,
    Only(Vec<String>),
}

impl ShowOutput {
    /// Whether the page may show the output of the target `id`.
    pub fn shows(&self, id: &str) -> bool {
        match self {
            ShowOutput::All => true,
            ShowOutput::None => false,
            ShowOutput::Only(ids) => ids.iter().any(|i| i == id || *i == targets::escape(id)),
        }
    }
}

impl PageSettings {
    /// Warnings for ids in `showOutput` that name no target (`check` prints them). Not an
    /// error: the one-target configs of `submit` (src/config/cache.rs) hold a single target,
    /// and a wrong id only hides more.
    pub fn unknown_ids(&self, all: &[Target]) -> Vec<String> {
        let ShowOutput::Only(ids) = &self.show_output else {
            return Vec::new();
        };
        ids.iter()
            .filter(|id| targets::find(all, id).is_none())
            .map(|id| {
                format!("page.showOutput names {id:?}, which is no target: its output stays hidden")
            })
            .collect()
    }
}

impl<'de> Deserialize<'de> for ShowOutput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ShowOutput;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a boolean or a list of target ids")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<ShowOutput, E> {
                Ok(if b { ShowOutput::All } else { ShowOutput::None })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ShowOutput, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element::<String>()? {
                    ids.push(id);
                }
                Ok(ShowOutput::Only(ids))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::ShowOutput;
    use crate::config::Config;
    use std::path::Path;

    fn parse(page: &str) -> anyhow::Result<Config> {
        Config::parse(
            Path::new("/etc/t.toml"),
            &format!(
                "backends = [\"local\", \"page\"]\n[page]\n{page}\n\
                 [[targets.passive]]\nhost = \"a:b\"\nname = \"x\"\n"
            ),
        )
    }

    #[test]
    fn show_output_is_a_bool_or_a_list_of_ids() {
        assert_eq!(parse("").unwrap().page.show_output, ShowOutput::All);
        assert_eq!(
            parse("showOutput = false").unwrap().page.show_output,
            ShowOutput::None
        );
        let only = parse("showOutput = [\"a_b-x\"]").unwrap().page.show_output;
        assert!(only.shows("a:b-x"), "the escaped id names the target too");
        assert!(!only.shows("c-y"));
        let err = format!("{:#}", parse("showOutput = 1").unwrap_err());
        assert!(
            err.contains("/etc/t.toml:3") && err.contains("a boolean or a list of target ids"),
            "{err}"
        );
    }

    #[test]
    fn an_id_that_names_no_target_is_a_warning() {
        let config = parse("showOutput = [\"a:b-x\", \"a-typo\"]\ndir = \"/srv/status\"").unwrap();
        assert_eq!(
            config.warnings,
            ["page.showOutput names \"a-typo\", which is no target: its output stays hidden"]
        );
        assert_eq!(config.page.dir.unwrap(), Path::new("/srv/status"));
        let err = format!("{:#}", parse("colour = 1").unwrap_err());
        assert!(err.contains("unknown field `colour`"), "{err}");
    }
}
