//! `virtsync explain KIND[.field...]`.
use super::{exit, CliError, ExplainArgs};
pub fn explain(_args: &ExplainArgs) -> Result<u8, CliError> {
    Ok(exit::OK)
}
