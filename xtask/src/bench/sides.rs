//! The implementations of a scenario that only some trees can run (state size,
//! broadcast): each with its figures; one whose folder is missing is skipped with a note,
//! not measured.

use std::path::Path;

use super::Impl;
use crate::workspace::{display, note};

/// What a side's figures say about it being skipped.
pub trait Skippable {
    /// Why the side is not measured, if it is not.
    fn skipped(&self) -> Option<&str>;
}

/// The implementations of one scenario and what was measured of each.
#[derive(Debug)]
pub struct Sides<F> {
    pub impls: Vec<Impl>,
    pub figures: Vec<F>,
}

impl<F: Skippable> Sides<F> {
    /// `impls`, each with the figures `figures` makes from why it is skipped (its folder
    /// has no `wrangler.toml`), if it is.
    pub fn of(impls: Vec<Impl>, figures: impl Fn(Option<String>) -> F) -> Self {
        let figures = impls.iter().map(|imp| figures(missing(&imp.dir))).collect();
        Sides { impls, figures }
    }

    /// The implementations that are measured.
    pub fn present(&self) -> impl Iterator<Item = &Impl> {
        self.impls
            .iter()
            .zip(&self.figures)
            .filter(|(_, fig)| fig.skipped().is_none())
            .map(|(imp, _)| imp)
    }

    /// Copies the present implementations' modules and writes their workerd configs.
    pub fn prepare(&mut self, scratch: &Path, kv_port: Option<u16>) -> Result<(), String> {
        for (imp, fig) in self.impls.iter_mut().zip(&self.figures) {
            if fig.skipped().is_none() {
                imp.prepare(scratch, kv_port)?;
            }
        }
        Ok(())
    }

    /// Notes each skipped implementation (`<label><what>: not measured (…)`) and returns
    /// the indices of the present ones.
    pub fn present_indices(&self, what: &str) -> Vec<usize> {
        let mut present = Vec::new();
        for (i, (imp, fig)) in self.impls.iter().zip(&self.figures).enumerate() {
            match fig.skipped() {
                Some(why) => note(format!("{}{what}: not measured ({why})", imp.label)),
                None => present.push(i),
            }
        }
        present
    }
}

/// Why the worker in `dir` cannot be measured, if it cannot.
fn missing(dir: &Path) -> Option<String> {
    (!dir.join("wrangler.toml").is_file()).then(|| format!("no `{}` in this tree", display(dir)))
}
